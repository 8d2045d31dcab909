"""systemd units over D-Bus against a real, private `systemd --user`: states,
NRestarts, template instances, events and their latency, and storage.
Recipe: ../shared/design/TESTING.md ("A real systemd, without systemd as PID 1")."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()



# vt-restart runs a copy of sleep under its own name, so `processes: {expect: 1}`
# without `match` (processes named like the unit's main process) counts just it.
sleeper_dir = tempfile.mkdtemp(prefix="vigil-sleeper.")
sleeper = os.path.join(sleeper_dir, "vt-sleeper")
shutil.copy("/bin/sleep", sleeper)
UNITS = {
    "vt-restart.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=on-failure\nRestartSec=300ms\n",
    "vt-plain.service": "[Service]\nExecStart=/bin/sleep 1000\nRestart=no\nMemoryMax=300M\n",
    "vt-fail.service": "[Service]\nExecStart=/bin/false\nRestart=no\n",
    "vt-guarded.service": "[Service]\nExecStart=/bin/sleep 1000\nRestart=no\n",
    "vt-demo@.service": "[Service]\nExecStart=/bin/sleep 1000\n",
}
# vt-slow listens only 1.5 s after it starts (as bitcoind answers RPC only
# after its warm-up); systemd restarts it 100 ms after a kill.
slow_port = vt.free_port()
slow_server = os.path.join(sleeper_dir, "slow_server.py")
with open(slow_server, "w") as f:
    f.write(f"""import socket, time
time.sleep(1.5)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", {slow_port}))
s.listen(16)
while True:
    s.accept()[0].close()
""")
UNITS["vt-slow.service"] = f"[Service]\nExecStart={sys.executable} {slow_server}\nRestart=always\nRestartSec=100ms\n"
sd = vt.user_systemd_or_skip(UNITS, sleeper_dir)
systemctl = sd.systemctl


def show(unit, prop):
    return systemctl("show", unit, "-p", prop, "--value")


v = None
with vt.running(lambda: v, lambda: sd.cleanup(),
                lambda: shutil.rmtree(sleeper_dir, ignore_errors=True)):
    systemctl("start", "vt-restart.service", "vt-plain.service", "vt-guarded.service", "vt-slow.service")
    # The port the `guarded` service's probe checks; closing it fails the probe.
    guard = socket.socket()
    guard.bind(("127.0.0.1", 0))
    guard.listen(16)
    guard_port = guard.getsockname()[1]

    CONFIG = """
global: {scrape_interval: 1s, log_level: debug}
host: {enabled: false}
systemd: {bus: user}
services:
  restart: {unit: vt-restart.service, processes: {expect: 1}}
  plain: {unit: vt-plain.service, depends_on: [restart]}
  demo: {unit: 'vt-demo@*.service'}
  failing: {unit: vt-fail}
  missing: {unit: vt-missing.service}
  sleepers: {processes: {match: '^/bin/sleep 1000', expect: 3}}
  guarded:
    unit: vt-guarded.service
    probes: [{name: port, type: tcp, target: '127.0.0.1:GUARD_PORT', interval: 1s, timeout: 500ms}]
  slow:
    unit: vt-slow.service
    probes: [{name: port, type: tcp, target: '127.0.0.1:SLOW_PORT', interval: 1s, timeout: 500ms}]
""".replace("GUARD_PORT", str(guard_port)).replace("SLOW_PORT", str(slow_port))
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()

    def fams():
        return vt.parse_exposition(v.metrics())

    def sample(f, metric, **labels):
        fam = f.get(metric)
        if not fam:
            return None
        for ls, value in fam["samples"].items():
            d = dict(ls)
            if all(d.get(k) == val for k, val in labels.items()):
                return value
        return None

    def state(f, unit):
        for s in ("active", "activating", "deactivating", "inactive", "failed"):
            if sample(f, "node_systemd_unit_state", name=unit, state=s) == 1:
                return s
        return None

    def wait_state(unit, want, timeout=5):
        return vt.wait_until(lambda: state(fams(), unit) == want, timeout=timeout, interval=0.02,
                             what=f"{unit} {want} on /metrics")

    def events():
        return sample(fams(), "vigil_events_total", source="systemd") or 0

    f = fams()
    c.check("bus connected", sample(f, "vigil_systemd_bus_connected") == 1)
    c.check("running unit is active", state(f, "vt-restart.service") == "active", state(f, "vt-restart.service"))
    c.check("five state series per unit with node_exporter labels",
            len([ls for ls in f["node_systemd_unit_state"]["samples"]
                 if dict(ls).get("name") == "vt-plain.service" and dict(ls).get("type") == "simple"
                 and dict(ls).get("service") == "plain"]) == 5)
    c.check("vigil_service_up=1 for an active unit", sample(f, "vigil_service_up", service="plain") == 1)
    c.check("MainPID exposed", sample(f, "vigil_systemd_unit_main_pid", name="vt-plain.service")
            == int(show("vt-plain.service", "MainPID")))
    c.check("start time exposed", abs(sample(f, "node_systemd_unit_start_time_seconds", name="vt-plain.service")
                                      - time.time()) < 60)
    c.check("MemoryMax exposed as systemd shows it",
            sample(f, "vigil_systemd_unit_memory_max_bytes", name="vt-plain.service")
            == int(show("vt-plain.service", "MemoryMax")) == 300 * 1024 * 1024)
    c.check("no MemoryMax (infinity): no limit series",
            show("vt-restart.service", "MemoryMax") == "infinity" and
            sample(f, "vigil_systemd_unit_memory_max_bytes", name="vt-restart.service") is None)
    c.check("NRestarts starts at 0", sample(f, "node_systemd_service_restart_total", name="vt-restart.service") == 0)
    c.check("a unit that does not exist is not-found and counted as an error",
            sample(f, "vigil_systemd_unit_info", name="vt-missing.service", load_state="not-found") == 1 and
            sample(f, "vigil_service_up", service="missing") == 0)
    vt.wait_until(lambda: sample(fams(), "vigil_collector_errors_total", collector="systemd",
                                 reason="unit_not_found", target="vt-missing.service"), timeout=5,
                  what="unit_not_found error with target")
    c.check("missing unit error has a log line naming the unit",
            re.search(r'msg="systemd problem" unit=vt-missing.service reason=unit_not_found', v.logs()) is not None)
    c.check("glob without a match yet: service not up", sample(f, "vigil_service_up", service="demo") == 0)

    # vigil_service_up needs the unit active AND the service's probes passing.
    vt.wait_until(lambda: sample(fams(), "vigil_probe_success", service="guarded", probe="port") == 1, timeout=5,
                  what="guarded probe passing")
    c.check("active unit, probe passing: service up", sample(fams(), "vigil_service_up", service="guarded") == 1)
    probe_events = sample(fams(), "vigil_events_total", source="probe") or 0
    guard.close()
    vt.wait_until(lambda: sample(fams(), "vigil_service_up", service="guarded") == 0, timeout=5,
                  what="guarded down once its port closed")
    f = fams()
    c.check("active unit, probe failing: service down",
            state(f, "vt-guarded.service") == "active" and sample(f, "vigil_probe_success", service="guarded") == 0)
    c.check("the probe verdict change reached the event sink",
            (sample(f, "vigil_events_total", source="probe") or 0) > probe_events)

    # A restarted service is down until its checks pass against the new
    # process: one 1 -> 0 -> 1 in the store, never up in between. The unit is
    # active 100 ms after the kill, its port answers 1.5 s later, and the
    # probe (each second) most often has not run in those 100 ms: the last
    # verdict, of the old process, passed.
    vt.wait_until(lambda: sample(fams(), "vigil_service_up", service="slow") == 1, timeout=10,
                  what="slow service up")
    t_kill = time.time()
    systemctl("kill", "-s", "KILL", "vt-slow.service")
    vt.wait_until(lambda: sample(fams(), "vigil_service_up", service="slow") == 0, timeout=5, what="slow down")
    vt.wait_until(lambda: sample(fams(), "vigil_service_up", service="slow") == 1, timeout=10,
                  what="slow up again")
    t_up = time.time()
    time.sleep(0.3)
    raw = vt.api(v.url, "/api/v1/query", query=f'vigil_service_up{{service="slow"}}[{int(time.time() - t_kill) + 3}s]')
    after_kill = [(float(t), v_) for t, v_ in raw["result"][0]["values"] if float(t) >= t_kill] if raw["result"] else []
    runs = [(t, v_) for i, (t, v_) in enumerate(after_kill) if i == 0 or v_ != after_kill[i - 1][1]]
    c.check("a restarted service is down until its checks pass: down once, then up, no flap in between",
            [v_ for _, v_ in runs] in (["1", "0", "1"], ["0", "1"]) and runs[-1][0] - t_kill >= 1.5, str(runs))
    c.check("and up within a probe interval of its port answering", t_up - t_kill < 0.1 + 1.5 + 1 + 0.5,
            f"{t_up - t_kill:.2f} s")
    vt.wait_until(lambda: sample(fams(), "vigil_process_threads", unit="vt-plain.service") is not None, timeout=5,
                  what="process metrics of the main PID")
    f = fams()
    c.check("process metrics of the main PID",
            all(sample(f, n, unit="vt-plain.service") is not None for n in
                ("vigil_process_cpu_seconds_total", "vigil_process_resident_memory_bytes", "vigil_process_open_fds",
                 "vigil_process_max_fds", "vigil_process_start_time_seconds")))
    vt.wait_until(lambda: sample(fams(), "vigil_service_processes", service="restart") is not None, timeout=5,
                  what="vigil_service_processes")
    f = fams()
    c.check("vigil_service_processes counts the unit's process",
            sample(f, "vigil_service_processes", service="restart") == 1 and
            sample(f, "vigil_service_processes_expected", service="restart") == 1)

    # A template instance started after vigil is found through UnitNew.
    before = events()
    systemctl("start", "vt-demo@one.service")
    wait_state("vt-demo@one.service", "active")
    c.check("template instance tracked with its service",
            sample(fams(), "vigil_service_up", service="demo") == 1)
    c.check("the start reached the event sink", events() > before)
    c.check("the glob's unit_not_found problem cleared",
            re.search(r'msg="systemd problem cleared" unit=vt-demo@\*\.service reason=unit_not_found', v.logs())
            is not None)
    c.check("processes.match counts by cmdline",
            vt.wait_until(lambda: sample(fams(), "vigil_service_processes", service="sleepers") == 3, timeout=5,
                          what="3 sleepers matched by cmdline"))

    # SIGKILL: failed within milliseconds, recorded and announced.
    latencies = []
    for attempt in range(3):
        if attempt:
            systemctl("reset-failed", "vt-plain.service", check=False)
            systemctl("start", "vt-plain.service")
            wait_state("vt-plain.service", "active")
        before = events()
        pid = int(show("vt-plain.service", "MainPID"))
        log_mark = len(v.logs())
        t0 = time.time()
        os.kill(pid, signal.SIGKILL)
        wait_state("vt-plain.service", "failed")
        seen = time.time() - t0
        # The debug line says when the change was stored: the kill->recorded latency.
        line = vt.wait_until(lambda: re.search(
            r'msg="systemd unit changed" unit=vt-plain.service active_state=failed .*recorded_unix_ms=(\d+)',
            v.logs()[log_mark:]), timeout=5, what="change log line")
        recorded = int(line.group(1)) / 1000.0 - t0
        latencies.append(recorded)
        print(f"kill -> recorded {recorded * 1000:.1f} ms, kill -> visible on /metrics {seen * 1000:.1f} ms")
        c.check(f"kill #{attempt + 1} reached the event sink", events() > before)
    c.check(f"kill -> recorded < 500 ms (max {max(latencies) * 1000:.1f} ms)", max(latencies) < 0.5)
    f = fams()
    c.check("SIGKILL gives Result=signal",
            sample(f, "vigil_systemd_unit_info", name="vt-plain.service", result="signal") == 1)
    c.check("failed unit: vigil_service_up=0", sample(f, "vigil_service_up", service="plain") == 0)
    c.check("MainPID 0 after the kill", sample(f, "vigil_systemd_unit_main_pid", name="vt-plain.service") == 0)
    c.check("inactive-enter timestamp moved", abs(sample(f, "vigil_systemd_unit_inactive_enter_timestamp_seconds",
                                                         name="vt-plain.service") - time.time()) < 10)

    # SIGKILL with Restart=on-failure: NRestarts counts, the unit comes back by itself.
    pid = int(show("vt-restart.service", "MainPID"))
    os.kill(pid, signal.SIGKILL)
    vt.wait_until(lambda: sample(fams(), "node_systemd_service_restart_total", name="vt-restart.service") == 1,
                  timeout=5, what="NRestarts=1")
    wait_state("vt-restart.service", "active")
    c.check("auto-restart: NRestarts=1 matches systemd", show("vt-restart.service", "NRestarts") == "1")
    c.check("auto-restart: new MainPID", sample(fams(), "vigil_systemd_unit_main_pid", name="vt-restart.service")
            == int(show("vt-restart.service", "MainPID")) != pid)

    # Stop, restart, fail.
    before = events()
    systemctl("stop", "vt-demo@one.service")
    wait_state("vt-demo@one.service", "inactive")
    c.check("stop -> inactive, event", events() > before)
    before = events()
    old = int(show("vt-restart.service", "MainPID"))
    systemctl("restart", "vt-restart.service")
    vt.wait_until(lambda: sample(fams(), "vigil_systemd_unit_main_pid", name="vt-restart.service") not in (0, old),
                  timeout=5, what="new MainPID after restart")
    wait_state("vt-restart.service", "active")
    # systemd resets NRestarts on a manual start or restart; vigil follows it.
    want = int(show("vt-restart.service", "NRestarts"))
    vt.wait_until(lambda: sample(fams(), "node_systemd_service_restart_total", name="vt-restart.service") == want,
                  timeout=5, what=f"NRestarts={want} after a manual restart")
    c.check(f"manual restart -> active, event, NRestarts as systemd says ({want})", events() > before)
    before = events()
    systemctl("start", "vt-fail.service", check=False)
    wait_state("vt-fail.service", "failed")
    f = fams()
    c.check("failing unit -> failed with Result=exit-code",
            sample(f, "vigil_systemd_unit_info", name="vt-fail.service", result="exit-code") == 1, state(f, "vt-fail.service"))
    c.check("fail reached the event sink", events() > before)
    c.check("failing service not up", sample(f, "vigil_service_up", service="failing") == 0)

    # The new families lint clean (promtool is the reference).
    promtool = shutil.which("promtool")
    if promtool:
        lint = subprocess.run([promtool, "check", "metrics"], input=v.metrics(), capture_output=True, text=True,
                              timeout=30)
        problems = [l for l in (lint.stdout + lint.stderr).splitlines()
                    if l.startswith(("node_systemd", "vigil_systemd", "vigil_service", "vigil_process", "vigil_events"))]
        c.check("promtool check metrics: systemd/process families clean", not problems, "\n".join(problems[:10]))

    # Every change was stored, not only shown: the failed state of vt-plain is in the store.
    dump = subprocess.run([a.vigil, "tsdb", "dump", "--data-dir", os.path.join(v.dir, "data"), "--match",
                           'node_systemd_unit_state{name="vt-plain.service",state="failed"}'],
                          capture_output=True, text=True, timeout=20)
    values = [line.split()[-2] for line in dump.stdout.splitlines() if line.strip()]
    c.check("state changes are in the store", "1" in values, dump.stdout[-500:] + dump.stderr[-500:])
    c.check("event debug line with latency",
            re.search(r'msg=event source=systemd .*latency_ms=\d+', v.logs()) is not None)

    # Losing systemd and its bus: reported, /metrics keeps serving, and vigil
    # reconnects on its own (backoff) once a manager is back.
    sd.stop()
    vt.wait_until(lambda: re.search(r'msg="systemd problem" reason=(bus_disconnected|systemd_gone)', v.logs()),
                  timeout=10, what="bus loss logged")
    c.check("bus loss is logged with a reason and /metrics keeps serving", "vigil_service_up" in v.metrics())
    sd.start()
    vt.wait_until(sd.manager_up, timeout=15, what="systemd --user again")
    systemctl("start", "vt-plain.service")
    c.check("reconnects after the bus comes back",
            vt.wait_until(lambda: sample(fams(), "vigil_systemd_bus_connected") == 1 and
                          state(fams(), "vt-plain.service") == "active", timeout=20,
                          what="reconnected and vt-plain active again"))

    rc = v.stop(signal.SIGTERM, timeout=5)
    c.check("vigil stops cleanly", rc == 0, f"rc={rc}")
c.finish()
