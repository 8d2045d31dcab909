"""vigil under a real, private `systemd --user` as a Type=notify unit with
WatchdogSec=2s: it becomes active only once READY=1 came (and says what it
watches in STATUS=), its pings keep it alive well past the watchdog timeout,
and when its notifier hangs (the test failpoint, docs/deploy.md) it stops
pinging, systemd kills it (Result=watchdog) and restarts it; once the hang
is lifted the new vigil stays up. Loopback only; every wait is bounded."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()

WATCHDOG_SEC = 2
work = tempfile.mkdtemp(prefix="vigil-wd.")
flag = os.path.join(work, "notifier-hang")
log_path = os.path.join(work, "vigil.log")
# Each stop's $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS, as systemd gives them
# to ExecStopPost=: unlike `systemctl show -p Result`, which the restart resets,
# they stay (and there is no journald here to read systemd's own lines from).
results_path = os.path.join(work, "results")
port = vt.free_port()
config = os.path.join(work, "vigil.yml")
with open(config, "w") as f:
    f.write("global: {scrape_interval: 1s}\nhost: {enabled: false}\n")
UNIT = "vigil-wd.service"
UNITS = {
    UNIT: f"""[Service]
Type=notify
NotifyAccess=main
ExecStart={os.path.abspath(a.vigil)} run --config {config} --data-dir {work}/data --listen 127.0.0.1:{port}
Environment=VIGIL_FAILPOINTS=notifier-hang:{flag}
WatchdogSec={WATCHDOG_SEC}s
Restart=on-failure
RestartSec=200ms
TimeoutStopSec=5s
LimitCORE=0
ExecStopPost=/bin/sh -c 'echo "$SERVICE_RESULT $EXIT_CODE $EXIT_STATUS" >>{results_path}'
StandardOutput=append:{log_path}
StandardError=append:{log_path}
""",
}
sd = vt.user_systemd_or_skip(UNITS, work)


def show(*props):
    out = sd.systemctl("show", UNIT, *[f"-p{p}" for p in props])
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def healthy():
    try:
        return vt.get(f"http://127.0.0.1:{port}/-/healthy", timeout=2)[0] == 200
    except OSError:
        return False


def vigil_log():
    try:
        with open(log_path) as f:
            return f.read()
    except OSError:
        return ""


def results():
    try:
        with open(results_path) as f:
            return f.read().splitlines()
    except OSError:
        return []


STATUS_RE = re.compile(r"^watching \d+ services, \d+ alerts firing, \d+ series$")

try:
    # --no-block: watch the unit go from activating to active ourselves.
    sd.systemctl("start", "--no-block", UNIT)
    states = set()

    def active():
        p = show("ActiveState", "MainPID", "StatusText")
        states.add(p["ActiveState"])
        if p["ActiveState"] == "active":
            # Active means READY=1 came, and vigil sends it once it listens.
            p["healthy_when_active"] = healthy()
            return p
        return None

    first = vt.wait_until(active, timeout=30, interval=0.02, what=f"{UNIT} active")
    c.check("active only once vigil listens (READY=1 after the HTTP server started)", first["healthy_when_active"])
    c.check("states seen on the way", "failed" not in states, str(states))
    status = vt.wait_until(lambda: STATUS_RE.match(show("StatusText")["StatusText"]), timeout=15,
                           what="StatusText 'watching N services, N alerts firing, N series'")
    print(f"StatusText={status.group(0)}")
    c.check("STATUS= says what vigil watches", bool(status))

    # Case 1: without the hang the pings are real, and keep vigil up for > 3x WatchdogSec.
    pid = first["MainPID"]
    hold = 3 * WATCHDOG_SEC + 2
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        p = show("ActiveState", "MainPID", "NRestarts")
        if p["ActiveState"] != "active" or p["MainPID"] != pid:
            break
        time.sleep(0.2)
    p = show("ActiveState", "MainPID", "NRestarts", "Result")
    c.check(f"stays active for {hold}s > 3x WatchdogSec={WATCHDOG_SEC}s with the same MainPID",
            p["ActiveState"] == "active" and p["MainPID"] == pid and p["NRestarts"] == "0", str(p))
    c.check("it never stopped meanwhile", results() == [], str(results()))

    # Case 2: the notifier hangs -> no pings -> systemd kills and restarts vigil.
    open(flag, "w").close()
    seen = {"stalled_status": None, "watchdog_result": False}

    def restarted():
        p = show("ActiveState", "MainPID", "NRestarts", "Result", "StatusText")
        if p["StatusText"].startswith("stalled: "):
            seen["stalled_status"] = p["StatusText"]
        seen["watchdog_result"] |= p["Result"] == "watchdog"
        return p if int(p["NRestarts"]) >= 1 and p["MainPID"] not in ("0", pid) else None

    # Stall limit 5 s (progress.h), then at most WatchdogSec until systemd acts.
    # Raises (the test fails) when systemd did not restart it in time.
    p = vt.wait_until(restarted, timeout=30, interval=0.05, what="systemd to restart the hung vigil (NRestarts >= 1)")
    print(f"after the hang: NRestarts={p['NRestarts']} MainPID {pid} -> {p['MainPID']}; "
          f"Result=watchdog seen by systemctl show: {seen['watchdog_result']}")
    first_stop = (results() or ["none"])[0]
    print(f"first stop: SERVICE_RESULT EXIT_CODE EXIT_STATUS = {first_stop}")
    c.check("systemd killed it for the watchdog (SERVICE_RESULT=watchdog, SIGABRT)",
            first_stop in ("watchdog killed ABRT", "watchdog dumped ABRT"), str(results()))
    c.check("STATUS= named the stalled subsystem before the kill",
            seen["stalled_status"] is not None and "notification made no progress" in seen["stalled_status"],
            str(seen["stalled_status"]))
    print(f"stalled StatusText={seen['stalled_status']}")
    vlog = vigil_log()
    c.check("vigil logged the stall once per hung process, naming notification",
            re.search(r'msg="watchdog: a subsystem stalled; not pinging systemd[^"]*" subsystem=notification', vlog)
            is not None, vlog[-2000:])
    c.check("the failpoint announced itself", "test failpoint armed" in vlog)

    # Lift the hang: the current vigil (hung or freshly restarted) recovers, and the one running stays.
    os.unlink(flag)

    def settled():
        p = show("ActiveState", "MainPID", "NRestarts")
        return p if p["ActiveState"] == "active" and healthy() else None

    p = vt.wait_until(settled, timeout=30, interval=0.1, what="vigil active again after the hang is lifted")
    pid, restarts = p["MainPID"], p["NRestarts"]
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        q = show("ActiveState", "MainPID", "NRestarts")
        if q != p:
            break
        time.sleep(0.2)
    q = show("ActiveState", "MainPID", "NRestarts")
    c.check(f"after the hang is lifted vigil stays active for {hold}s (MainPID {pid}, NRestarts {restarts})",
            q == p, f"{p} -> {q}")
    metrics = vt.get(f"http://127.0.0.1:{port}/metrics")[2]
    c.check("vigil_watchdog_timeout_seconds shows systemd's WatchdogSec",
            f"vigil_watchdog_timeout_seconds {WATCHDOG_SEC}" in metrics,
            [l for l in metrics.splitlines() if "watchdog" in l])

    # A clean stop: STOPPING=1, exit 0, no restart.
    sd.systemctl("stop", UNIT)
    p = show("ActiveState", "Result")
    c.check("stops cleanly", p["ActiveState"] == "inactive" and p["Result"] == "success", str(p))
    c.check("the last stop exited 0", results()[-1:] == ["success exited 0"], str(results()))
except Exception:
    print("--- vigil log (tail) ---\n" + vigil_log()[-3000:])
    print(f"--- stops (SERVICE_RESULT EXIT_CODE EXIT_STATUS) ---\n{results()}")
    raise
finally:
    if os.path.exists(flag):
        os.unlink(flag)  # lets a hung vigil go, so the stop below is quick
    sd.systemctl("stop", UNIT, check=False)
    sd.cleanup()
    shutil.rmtree(work, ignore_errors=True)

c.finish()
