#!/usr/bin/env python3
"""Kill drill side by side: the same service (a small HTTP "RPC") SIGKILLed
ROUNDS times under three supervisors on one private `systemd --user`, and the
time from the kill until the RPC answers again measured by this script
polling every 5 ms:

- systemd's own Restart=on-failure (RestartSec=100ms, its default): the
  blind floor, restarting without checking anything;
- Monit 5.33 at its shortest cycle (`set daemon 1`), `if does not exist
  then restart` through `systemctl --user start`;
- vigil (Restart=no on the unit): D-Bus detection, restart, and its own
  verification (active, probe passing, stable_for); both the time to an
  answering RPC and the time to vigil's "verified" are reported.

Usage: python3 bench/compare_recovery.py --vigil build/vigil [--rounds 20]
Prints a table and the ratios for docs/performance.md."""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import vigiltest as vt  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--vigil", required=True)
p.add_argument("--rounds", type=int, default=20)
args = p.parse_args()
monit = shutil.which("monit")
if not monit:
    sys.exit("monit is not installed (scripts/setup.sh --bench installs it)")

work = tempfile.mkdtemp(prefix="vigil-bench-recovery.")
server_py = vt.write_rpc_server(work)
ports = {k: vt.free_port() for k in ("systemd", "monit", "vigil")}


def unit(name, restart):
    # No start rate limit: the rounds follow each other faster than systemd's default 5 starts per 10 s.
    return (f"[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart={sys.executable} {server_py} {ports[name]} {name}\n"
            f"{restart}\n")


sd = vt.UserSystemd({
    "bench-systemd.service": unit("systemd", "Restart=on-failure\nRestartSec=100ms"),
    "bench-monit.service": unit("monit", "Restart=no"),
    "bench-vigil.service": unit("vigil", "Restart=no"),
})
procs = []


def answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.2) as r:
            return r.status == 200
    except Exception:
        return False


def main_pid(u):
    return int(sd.systemctl("show", u, "-p", "MainPID", "--value") or 0)


def wait(pred, timeout, what):
    return vt.wait_until(pred, timeout=timeout, interval=0.005, what=what)


try:
    sd.systemctl("start", "bench-systemd.service", "bench-monit.service", "bench-vigil.service")
    env = f"XDG_RUNTIME_DIR={os.environ['XDG_RUNTIME_DIR']} DBUS_SESSION_BUS_ADDRESS={os.environ['DBUS_SESSION_BUS_ADDRESS']}"
    monitrc = os.path.join(work, "monitrc")
    with open(monitrc, "w") as f:
        f.write(f"""set daemon 1
set logfile {work}/monit.log
set idfile {work}/monit.id
set statefile {work}/monit.state
check process bench-monit matching "rpc.py {ports['monit']} monit"
  start program = "/usr/bin/env {env} /bin/systemctl --user start bench-monit.service"
  stop program = "/usr/bin/env {env} /bin/systemctl --user stop bench-monit.service"
  if does not exist then restart
""")
    os.chmod(monitrc, 0o600)
    procs.append(subprocess.Popen([monit, "-I", "-c", monitrc], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    # A page for the drill's detect and notify figures, delivered to a local webhook.
    hooks = vt.Emulator(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."), "webhooks")
    procs.append(hooks.proc)
    rules = os.path.join(work, "rules.yml")
    with open(rules, "w") as f:
        f.write("groups: [{name: p0, rules: [{alert: ServiceDown, expr: vigil_service_up == 0, "
                "labels: {severity: critical}}]}]\n")
    config = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
systemd: {{bus: user}}
rule_files: ['{rules}']
alerting:
  route: {{receiver: hook, group_by: [alertname, service], group_wait: 0s, group_interval: 1s}}
  receivers: [{{name: hook, webhook_configs: [{{url: '{hooks.url}/alertmanager'}}]}}]
  flap: {{enabled: false}}   # 20 kills in a row are flapping by design: every round should page here
services:
  rpc:
    unit: bench-vigil.service
    probes: [{{name: rpc, type: http, url: 'http://127.0.0.1:{ports['vigil']}/', interval: 250ms, timeout: 200ms}}]
    recovery: {{restart: {{verify_timeout: 10s, stable_for: 1s, max_attempts: 100}}}}
"""
    v = vt.Vigil(args.vigil, config)
    v.wait_ready()
    results = {k: [] for k in ("systemd", "monit", "vigil", "vigil_verified")}
    for name in ("systemd", "monit", "vigil"):
        u = f"bench-{name}.service"
        for i in range(args.rounds):
            wait(lambda: answers(ports[name]) and main_pid(u) != 0, 30, f"{name} answering")
            if name == "vigil":
                wait(lambda: json.loads(vt.get(v.url + "/api/v1/recovery")[2])["data"]["services"][0]["phase"]
                     == "healthy", 30, "vigil healthy")
                last = json.loads(vt.get(v.url + "/api/v1/recovery?limit=1")[2])["data"]["history"]
                baseline = last[0]["id"] if last else 0
            time.sleep(1.2)  # past monit's cycle boundary effects: kills land anywhere in its cycle
            pid = main_pid(u)
            t0 = time.monotonic()
            wall0 = time.time()
            os.kill(pid, signal.SIGKILL)
            try:
                wait(lambda: main_pid(u) not in (0, pid) and answers(ports[name]), 60, f"{name} back")
            except AssertionError:
                print(sd.systemctl("status", u, check=False))
                raise
            results[name].append(time.monotonic() - t0)
            if name == "vigil":
                def verified():
                    h = json.loads(vt.get(v.url + "/api/v1/recovery?limit=20")[2])["data"]["history"]
                    return [e for e in h if e["id"] > baseline and e["kind"] == "verified"]
                e = wait(verified, 30, "vigil verified")[0]
                import datetime
                t = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
                results["vigil_verified"].append(t - wall0)
                subprocess.run([args.vigil, "recovery", "reset", "rpc", "--server", v.url], capture_output=True)

    def pct(xs, q):
        xs = sorted(xs)
        return xs[max(0, min(len(xs) - 1, int(round(q * len(xs) + 0.5)) - 1))]

    print(f"{args.rounds} SIGKILL rounds each; time from the kill until the RPC answers again (s)")
    print(f"{'supervisor':<34} {'p50':>8} {'p99':>8} {'mean':>8}")
    labels = {"systemd": "systemd Restart=on-failure (blind)", "monit": "Monit 5.33, set daemon 1",
              "vigil": "vigil (answering again)", "vigil_verified": "vigil (verified: +stable_for 1s)"}
    for k, xs in results.items():
        print(f"{labels[k]:<34} {pct(xs, .5):8.3f} {pct(xs, .99):8.3f} {statistics.mean(xs):8.3f}")
    print(f"ratio vigil/monit (p50): {pct(results['vigil'], .5) / pct(results['monit'], .5):.3f}; "
          f"vigil - systemd (p50): {pct(results['vigil'], .5) - pct(results['systemd'], .5):+.3f} s")
    # The same figure as operators get it: vigil's own drill (detect, notify, verified recovery).
    drill = subprocess.run([args.vigil, "drill", "kill", "rpc", "--yes", "--user", "--rounds", str(args.rounds),
                            "--server", v.url], capture_output=True, text=True, timeout=60 * args.rounds)
    print(f"\n$ vigil drill kill rpc --yes --user --rounds {args.rounds}")
    print("\n".join(drill.stdout.strip().splitlines()[-4:]) or drill.stderr)
finally:
    for pr in procs:
        pr.terminate()
        try:
            pr.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pr.kill()
    try:
        v.cleanup()
    except NameError:
        pass
    sd.cleanup()
    shutil.rmtree(work, ignore_errors=True)
