"""Automatic recovery against a real, private `systemd --user`: restarts that
are verified (unit active and probes passing after the action), budgets and
one escalation page, units under systemd's own Restart=always, clean stops
left alone, dependency order, a crash of vigil in the middle of an action,
and `vigil drill`. Units run with Restart=no unless the case is about
systemd's own restarts, so only vigil restarts them."""
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-recovery.")
# An "RPC" that answers 200 on /; a SIGSTOP makes it hang (alive, not answering).
server_py = vt.write_rpc_server(work)
ports = {name: vt.free_port() for name in ("app", "root", "mid", "leaf")}
broken = {name: os.path.join(work, name + ".broken") for name in ("root",)}


def rpc_unit(name, restart="no"):
    # Fails at start while its .broken flag file exists.
    flag = os.path.join(work, name + ".broken")
    return (f"[Service]\nExecStart=/bin/sh -c 'test ! -e {flag} && exec {sys.executable} {server_py} {ports[name]}'\n"
            f"Restart={restart}\n")


# Its own name, so no other test counting "vt-sleeper" processes ever sees these.
sleeper = os.path.join(work, "vt-recovery-sleeper")
shutil.copy("/bin/sleep", sleeper)
UNITS = {
    "vt-app.service": rpc_unit("app"),
    "vt-crash.service": "[Service]\nExecStart=/bin/false\nRestart=no\n",
    "vt-always.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=always\nRestartSec=200ms\n",
    "vt-loop.service": "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=300ms\n"
                       "StartLimitIntervalSec=0\n",
    "vt-slow.service": "[Service]\nExecStartPre=/bin/sleep 3\nExecStart=/bin/false\nRestart=no\n",
    "vt-held.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n",
    "vt-root.service": rpc_unit("root"),
    "vt-mid.service": rpc_unit("mid"),
    "vt-leaf.service": rpc_unit("leaf"),
}
sd = vt.user_systemd_or_skip(UNITS, work)
systemctl = sd.systemctl
hooks = vt.Emulator(a.source_dir, "webhooks")

rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: p0
    rules:
      - alert: ServiceDown
        expr: vigil_service_up == 0
        labels: {severity: critical}
""")


def rpc_probe(name):
    return (f"probes: [{{name: rpc, type: http, url: 'http://127.0.0.1:{ports[name]}/', interval: 300ms, "
            f"timeout: 250ms}}]")


FAST = "backoff: 1s, max_backoff: 2s, verify_timeout: 8s, stable_for: 1s, unhealthy_for: 1s"
CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{enabled: false}}
systemd: {{bus: user}}
rule_files: ['{rules}']
alerting:
  route: {{receiver: hook, group_by: [alertname, service], group_wait: 0s, group_interval: 1s}}
  receivers:
    - {{name: hook, webhook_configs: [{{url: '{hooks.url}/alertmanager'}}]}}
recovery: {{mode: enforce, max_concurrent: 4}}
services:
  app:
    unit: vt-app.service
    {rpc_probe("app")}
    recovery: {{restart: {{{FAST}}}}}
  crash:
    unit: vt-crash.service
    recovery: {{restart: {{max_attempts: 3, {FAST}}}}}
  always:
    unit: vt-always.service
    recovery: {{restart: {{{FAST}}}}}
  loop:
    unit: vt-loop.service
    recovery: {{restart: {{max_attempts: 3, {FAST}}}}}
  held:
    unit: vt-held.service
    recovery: {{restart: {{{FAST}}}, hold_page_for: 20s}}
  slow:
    unit: vt-slow.service
    recovery: {{restart: {{max_attempts: 5, backoff: 6s, max_backoff: 6s, verify_timeout: 8s, stable_for: 1s}}}}
  root:
    unit: vt-root.service
    {rpc_probe("root")}
    recovery: {{restart: {{max_attempts: 3, {FAST}}}}}
  mid:
    unit: vt-mid.service
    depends_on: [root]
    {rpc_probe("mid")}
    recovery: {{restart: {{{FAST}}}}}
  leaf:
    unit: vt-leaf.service
    depends_on: [mid]
    {rpc_probe("leaf")}
    recovery: {{restart: {{{FAST}}}}}
"""


def show(unit, prop):
    return systemctl("show", unit, "-p", prop, "--value")


def main_pid(unit):
    return int(show(unit, "MainPID") or 0)


v = None


def recovery(service=None, limit=500):
    q = f"?limit={limit}" + (f"&service={service}" if service else "")
    return json.loads(vt.get(v.url + "/api/v1/recovery" + q)[2])["data"]


def history(service):
    return list(reversed(recovery(service)["history"]))  # oldest first


def phase(service):
    return next(s for s in recovery()["services"] if s["service"] == service)["phase"]


def actions(service):
    return [e for e in history(service) if e["kind"] == "action"]


def kinds(service):
    return [e["kind"] for e in history(service)]


def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def post(op, **params):
    body = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(v.url + "/api/v1/recovery/" + op, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def pages(service):
    return vt.webhook_alerts(hooks.url, "RecoveryFailed", service, "firing")


with vt.running(lambda: v, lambda: hooks.stop(), lambda: sd.cleanup(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    systemctl("start", "vt-app.service", "vt-always.service", "vt-root.service", "vt-mid.service", "vt-leaf.service",
              "vt-held.service")
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()
    for s in ("app", "always", "root", "mid", "leaf"):
        vt.wait_until(lambda: phase(s) == "healthy", timeout=15, what=f"{s} healthy")

    # --- SIGKILL: restarted by vigil and verified; systemd did not restart it (Restart=no).
    pid = main_pid("vt-app.service")
    os.kill(pid, signal.SIGKILL)
    vt.wait_until(lambda: "verified" in kinds("app"), timeout=20, what="app verified after SIGKILL")
    acts = actions("app")
    c.check("kill: one restart by vigil, its job done, then verified",
            len(acts) == 1 and acts[0]["action"] == "restart" and acts[0]["outcome"] == "verified" and
            kinds("app")[-1] == "verified", json.dumps(history("app")))
    c.check("kill: a new main process, NRestarts still 0",
            main_pid("vt-app.service") not in (0, pid) and show("vt-app.service", "NRestarts") == "0")
    verified = [e for e in history("app") if e["kind"] == "verified"][-1]
    c.check("kill: the verified entry carries the time to recover", 0 < verified["durationSeconds"] < 10, verified)

    # --- hang (SIGSTOP): alive to systemd, dead to its probe; recovered.
    vt.wait_until(lambda: phase("app") == "healthy", timeout=15, what="app healthy again")
    pid = main_pid("vt-app.service")
    os.kill(pid, signal.SIGSTOP)
    vt.wait_until(lambda: kinds("app").count("verified") == 2, timeout=30, what="app verified after SIGSTOP")
    acts = actions("app")
    c.check("hang: detected by the probe and restarted",
            len(acts) == 2 and "checks fail" in acts[1]["detail"] and main_pid("vt-app.service") != pid,
            json.dumps(acts))

    # --- a clean stop is not restarted.
    vt.wait_until(lambda: phase("app") == "healthy", timeout=15, what="app healthy again")
    systemctl("stop", "vt-app.service")
    vt.wait_until(lambda: "stopped_by_operator" in kinds("app"), timeout=10, what="clean stop recorded")
    time.sleep(3)
    c.check("stop: not restarted", len(actions("app")) == 2 and show("vt-app.service", "ActiveState") == "inactive",
            json.dumps(history("app")[-3:]))
    systemctl("start", "vt-app.service")

    # --- hold_page_for: the page waits for the recovery; a verified recovery sends a P3 notice instead.
    def hook(alertname, service, status="firing"):
        return vt.webhook_alerts(hooks.url, alertname, service, status)

    vt.wait_until(lambda: phase("held") == "healthy", timeout=15, what="held healthy")
    os.kill(main_pid("vt-held.service"), signal.SIGKILL)
    vt.wait_until(lambda: "verified" in kinds("held"), timeout=20, what="held verified")
    notice = vt.wait_until(lambda: hook("RecoveredAutomatically", "held"), timeout=10, what="the P3 notice")
    time.sleep(1)
    c.check("hold: recovered inside the hold, so the P0 page was never sent",
            not hook("ServiceDown", "held") and not hook("ServiceDown", "held", "resolved"))
    c.check("hold: a P3 'recovered automatically' notice instead", notice[0]["labels"]["severity"] == "low" and
            "recovered automatically" in notice[0]["annotations"]["summary"], json.dumps(notice))
    post("pause", service="held")
    t_kill = time.time()
    os.kill(main_pid("vt-held.service"), signal.SIGKILL)
    vt.wait_until(lambda: hook("ServiceDown", "held"), timeout=10, what="the page once recovery will not act")
    c.check("hold: paused, recovery will not act, so the page goes out at once", time.time() - t_kill < 5)
    post("resume", service="held")
    vt.wait_until(lambda: phase("held") == "healthy", timeout=20, what="held recovered after resume")

    # --- Restart=always: systemd's restart is verified and audited; vigil adds none.
    before = int(show("vt-always.service", "NRestarts"))
    os.kill(main_pid("vt-always.service"), signal.SIGKILL)
    vt.wait_until(lambda: "verified" in kinds("always"), timeout=20, what="systemd's restart verified")
    time.sleep(1)
    after = int(show("vt-always.service", "NRestarts"))
    c.check("Restart=always: NRestarts grew by exactly one", after == before + 1, f"{before} -> {after}")
    c.check("Restart=always: audited as systemd's restart, no restart by vigil",
            "systemd_restart" in kinds("always") and not actions("always"), json.dumps(history("always")))

    # --- Restart=always crash loop: escalated once the budget is spent; vigil never restarts it.
    systemctl("start", "vt-loop.service", check=False)
    vt.wait_until(lambda: pages("loop"), timeout=30, what="the crash loop's RecoveryFailed page")
    c.check("crash loop: escalated, no restart by vigil", kinds("loop").count("escalated") == 1 and
            not actions("loop"), json.dumps(history("loop")))
    systemctl("stop", "vt-loop.service", check=False)

    # --- fails on every start: exactly the budget, one page naming the attempts, then nothing.
    systemctl("start", "vt-crash.service", check=False)
    vt.wait_until(lambda: pages("crash"), timeout=40, what="RecoveryFailed page for crash")
    time.sleep(4)  # past the backoff: nothing more may happen
    acts = actions("crash")
    page = pages("crash")[0]
    c.check("budget: exactly three restarts", len(acts) == 3, json.dumps(acts))
    c.check("budget: one escalation, the page lists the three attempts",
            kinds("crash").count("escalated") == 1 and len(pages("crash")) == 1 and
            page["annotations"].get("attempts", "").count("restart by vigil") == 3 and
            page["labels"].get("severity") == "critical", json.dumps(page))
    c.check("budget: the metrics show it spent",
            'vigil_recovery_budget_remaining{service="crash"} 0' in v.metrics() and
            'vigil_recovery_escalated{service="crash"} 1' in v.metrics())
    r = subprocess.run([a.vigil, "recovery", "reset", "crash", "--server", v.url], capture_output=True, text=True,
                       timeout=10)
    vt.wait_until(lambda: len(actions("crash")) >= 4, timeout=10, what="a restart after the reset")
    c.check("reset: the budget is full again and vigil tries again", r.returncode == 0, r.stderr)
    post("pause", service="crash")  # keep it from spending more during the rest of the test

    # --- dependency order: the root first; dependents only after it is verified, and only if still unhealthy.
    open(broken["root"], "w").close()
    os.kill(main_pid("vt-root.service"), signal.SIGKILL)
    os.kill(main_pid("vt-mid.service"), signal.SIGKILL)
    vt.wait_until(lambda: pages("root"), timeout=40, what="RecoveryFailed page for the root")
    time.sleep(2)
    c.check("chain: the root restarted up to its budget, the dependent never while it is down",
            len(actions("root")) == 3 and not actions("mid") and not actions("leaf"),
            json.dumps({"root": actions("root"), "mid": history("mid")}))
    page = pages("root")[0]
    c.check("chain: one page, for the root, naming what it takes down",
            len(pages("root")) == 1 and not pages("mid") and not pages("leaf") and
            "mid" in page["annotations"].get("affected_services", ""), json.dumps(page))
    os.remove(broken["root"])
    post("reset", service="root")
    vt.wait_until(lambda: "verified" in kinds("root") and "verified" in kinds("mid"), timeout=30,
                  what="root, then mid, verified")
    reset_id = [e for e in history("root") if e["kind"] == "reset"][-1]["id"]
    root_verified = [e for e in history("root") if e["kind"] == "verified" and e["id"] > reset_id][0]["time"]
    mid_restart = actions("mid")[0]["time"] if actions("mid") else ""
    c.check("chain: the dependent restarted once, after the root was verified",
            len(actions("mid")) == 1 and ts(mid_restart) >= ts(root_verified),
            json.dumps({"root": history("root")[-8:], "mid": history("mid")[-8:]}))
    c.check("chain: the healthy leaf was never restarted", not actions("leaf"))
    c.check("chain: the RecoveryFailed page resolved", vt.wait_until(
        lambda: vt.webhook_alerts(hooks.url, "RecoveryFailed", status="resolved"), timeout=15, what="resolved page"))

    # --- vigil SIGKILLed while a restart job runs: "interrupted" after the restart,
    # the attempt still counts, and no second restart inside the backoff.
    systemctl("start", "vt-slow.service", check=False)  # fails after 3 s: a fault for vigil
    vt.wait_until(lambda: any(e["outcome"] == "started" for e in actions("slow")), timeout=20,
                  what="a restart of slow under way")
    v.stop(sig=signal.SIGKILL)
    data_dir = v.data_dir
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()
    vt.wait_until(lambda: len(actions("slow")) >= 2, timeout=30, what="the next restart of slow")
    acts = actions("slow")
    c.check("crash: the interrupted action is audited as such", acts[0]["outcome"] == "interrupted",
            json.dumps(acts))
    gap = ts(acts[1]["time"]) - ts(acts[0]["time"])
    c.check("crash: the next restart waited out the backoff (6 s) and is attempt 2", gap >= 5.9 and
            acts[1]["attempt"] == 2, f"gap {gap:.2f}s {json.dumps(acts)}")
    post("pause", service="slow")

    # --- vigil drill: three rounds of kill, figures printed and kept as metrics.
    for s in ("app",):
        vt.wait_until(lambda: phase(s) == "healthy", timeout=20, what=f"{s} healthy before the drill")
    dry = subprocess.run([a.vigil, "drill", "kill", "app", "--server", v.url, "--user"], capture_output=True,
                         text=True, timeout=10)
    c.check("drill: without --yes it only says what it would do", dry.returncode == 2 and "would SIGKILL" in dry.stdout,
            dry.stdout + dry.stderr)
    r = subprocess.run([a.vigil, "drill", "kill", "app", "--yes", "--rounds", "3", "--user", "--server", v.url,
                        "--json"], capture_output=True, text=True, timeout=180)
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    print("drill:", r.stdout.strip(), r.stderr.strip())
    if r.returncode != 0:
        print("--- systemd --user log (tail) ---\n" + open(sd.log_path).read()[-3000:])
    c.check("drill: three rounds, each detected and recovered", r.returncode == 0 and len(out.get("rounds", [])) == 3
            and all(x["detect"] >= 0 and x["recover"] > 0 for x in out["rounds"]), r.stdout + r.stderr)
    c.check("drill: p99 recovery under 10 s", out and 0 < out["recover"]["p99"] < 10, json.dumps(out))
    c.check("drill: figures kept as metrics", 'vigil_drill_last_recover_seconds{fault="kill",service="app"}'
            in v.metrics())
    r = subprocess.run([a.vigil, "drill", "stop", "app", "--yes", "--user", "--server", v.url], capture_output=True,
                       text=True, timeout=120)
    c.check("drill: a clean stop is detected and not restarted", r.returncode == 0 and "not restarted" in r.stdout,
            r.stdout + r.stderr)

    # --- the CLI's view and the pause control.
    r = subprocess.run([a.vigil, "recovery", "list", "--server", v.url], capture_output=True, text=True, timeout=10)
    c.check("vigil recovery list shows phases and the audit",
            r.returncode == 0 and "SERVICE" in r.stdout and "crash" in r.stdout and "escalated" in r.stdout,
            r.stdout[-2000:])
    c.check("unknown service in a control is a 400 naming it",
            subprocess.run([a.vigil, "recovery", "reset", "nope", "--server", v.url], capture_output=True,
                           text=True).stderr.find('unknown service "nope"') >= 0)

c.finish()
