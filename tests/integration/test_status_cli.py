"""GET /api/v1/status, `vigil status` and `vigil top` against a real vigil
with a private `systemd --user` (one sleeper unit) and an emulated bitcoind:
the snapshot's content, states and exit codes as the unit is killed and
started again, no colour codes without a TTY or with NO_COLOR, and `vigil
top` driven in tmux (panes, silencing an alert, quitting)."""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import vigiltest as vt

a = vt.args()
c = vt.Checks()
tmux = vt.need("tmux")

work = tempfile.mkdtemp(prefix="vigil-status.")
sleeper = os.path.join(work, "vt-status-sleeper")  # its own name: no other test counts it
shutil.copy("/bin/sleep", sleeper)
UNIT, APP_UNIT, HEALER_UNIT = "vt-status-node.service", "vt-status-app.service", "vt-status-healer.service"
sd = vt.user_systemd_or_skip({u: f"[Service]\nExecStart={sleeper} 100000\nRestart=no\n"
                              for u in (UNIT, APP_UNIT, HEALER_UNIT)}, work)
cookie = os.path.join(work, "cookie")
bitcoind = vt.Emulator(a.source_dir, "bitcoind", "--cookie-file", cookie)

rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: always
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: info, service: node}
        annotations: {summary: 'fires for the test'}
      - alert: NodeInIBD
        expr: vigil_bitcoind_initial_block_download{service="node"} == 1
        labels: {severity: high}
""")

CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{interval: 1s}}
systemd: {{bus: user}}
rule_files: ['{rules}']
recovery: {{mode: enforce}}
alerting:
  route: {{receiver: none}}
  receivers: [{{name: none}}]
services:
  node:
    unit: {UNIT}
    bitcoind: {{url: '{bitcoind.url}/', cookie_file: '{cookie}', interval: 1s, timeout: 800ms}}
  app:
    depends_on: [node]
    unit: {APP_UNIT}
  healer:
    unit: {HEALER_UNIT}
    recovery: {{restart: {{backoff: 1s, max_backoff: 2s, verify_timeout: 8s, stable_for: 3s}}}}
"""

tsock = f"vigil-status-{os.getpid()}"  # a private tmux server, killed at the end
vigil = None


def status():
    return json.loads(vt.get(vigil.url + "/api/v1/status")[2])


def service(snap, name):
    return next(s for s in snap["data"]["services"] if s["name"] == name)


def run_status(*args, env=None):
    return subprocess.run([a.vigil, "status", "--url", vigil.url, *args], capture_output=True, timeout=20,
                          env=env)


def tmux_cmd(*args):
    return subprocess.run([tmux, "-L", tsock, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10)


def screen(escapes=False):
    return tmux_cmd("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "t").stdout


def wait_screen(pred, what, timeout=5):
    """Returns the screen once `pred` holds for it."""
    def check():
        s = screen()
        return s if pred(s) else None
    return vt.wait_until(check, timeout=timeout, interval=0.1, what=what)


def clear_screen():
    """Clears the pane and waits until it is: a later wait must not match what was there before."""
    tmux_cmd("send-keys", "-t", "t", "clear", "Enter")
    wait_screen(lambda s: "-rc=" not in s and "vigil" not in s, "the pane cleared")


def cleanup():
    tmux_cmd("kill-server")
    bitcoind.stop()
    sd.cleanup()
    shutil.rmtree(work, ignore_errors=True)


with vt.running(lambda: vigil, cleanup):
    sd.systemctl("start", UNIT, APP_UNIT, HEALER_UNIT)
    vigil = vt.Vigil(a.vigil, CONFIG)
    vigil.wait_ready(timeout=15)

    snap = vt.wait_until(lambda: (lambda s: s if service(s, "node")["state"] == "up" and any(
        h["name"] == "blocks" for h in service(s, "node")["health"]) else None)(status()),
        timeout=15, what="node up with bitcoind health values")
    d = snap["data"]
    node = service(snap, "node")
    c.check("status is success, with time and overall", snap["status"] == "success" and
            abs(d["time"] - time.time()) < 5 and d["overall"] in ("healthy", "warning", "critical"), str(d)[:300])
    c.check("service names the unit and its dependencies",
            node["units"] == [UNIT] and service(snap, "app")["depends_on"] == ["node"], str(node))
    c.check("since is when the unit became active", node["since"] is not None and
            time.time() - 120 < node["since"] <= time.time() + 1, str(node["since"]))
    health = {h["name"]: h for h in node["health"]}
    c.check("bitcoind health values", health.get("blocks", {}).get("value") == 850000 and
            health.get("headers", {}).get("value") == 850000 and health.get("ibd", {}).get("text") == "no" and
            health.get("peers", {}).get("value") == 10, str(node["health"]))
    c.check("a service without a module has no health values", service(snap, "app")["health"] == [])
    snap = vt.wait_until(lambda: (lambda s: s if service(s, "node")["uptime_24h"] is not None and
                                  s["data"]["host"]["cpu_busy_ratio"] is not None else None)(status()),
                         timeout=15, what="uptime and cpu figures")
    node = service(snap, "node")
    c.check("uptime over 24h and 30d from vigil_service_up",
            0 < node["uptime_24h"] <= 1 and 0 < node["uptime_30d"] <= 1, str(node))
    host = snap["data"]["host"]
    c.check("host figures", host["name"] != "" and isinstance(host["cpus"], int) and host["cpus"] >= 1 and
            0 <= host["cpu_busy_ratio"] <= 1 and host["load1"] is not None and
            host["memory"]["total_bytes"] > host["memory"]["available_bytes"] > 0, str(host)[:400])
    fs = host["filesystems"]
    c.check("filesystems with size, use and fill fields", len(fs) >= 1 and all(
        set(f) >= {"mountpoint", "device", "fstype", "size_bytes", "avail_bytes", "used_ratio",
                   "fill_bytes_per_second", "full_in_seconds"} and f["size_bytes"] > 0 and
        0 <= f["used_ratio"] <= 1 for f in fs), str(fs)[:400])
    alerts = snap["data"]["alerts"]
    firing = [x for x in alerts["firing"] if x["name"] == "AlwaysFiring"]
    c.check("the firing alert with its priority and service",
            len(firing) == 1 and firing[0]["priority"] == "P3" and firing[0]["service"] == "node" and
            firing[0]["summary"] == "fires for the test" and firing[0]["labels"]["alertname"] == "AlwaysFiring" and
            alerts["counts"]["P3"] >= 1 and node["alerts"]["P3"] == 1, str(alerts))
    c.check("everything up and only a P3 firing: healthy", snap["data"]["overall"] == "healthy",
            snap["data"]["overall"])
    c.check("/api/v1/status/buildinfo still answered by the Prometheus API",
            json.loads(vt.get(vigil.url + "/api/v1/status/buildinfo")[2])["status"] == "success")

    times = []
    for _ in range(20):
        t0 = time.monotonic()
        vt.get(vigil.url + "/api/v1/status")
        times.append(time.monotonic() - t0)
    c.check("a snapshot takes well under 50 ms", statistics.median(times) < 0.05,
            f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
    print(f"     /api/v1/status: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")

    r = run_status()
    out = r.stdout.decode()
    c.check("vigil status exits 0 when healthy", r.returncode == 0, f"{r.returncode} {out} {r.stderr!r}")
    c.check("piped output has no ESC byte", b"\x1b" not in r.stdout)
    c.check("piped output names the services and their state", "node" in out and "+ up" in out and
            "AlwaysFiring" in out and "[P3]" in out and "HOST" in out, out)
    c.check("piped output fits 80 columns", all(len(line) <= 80 for line in out.splitlines()),
            max(out.splitlines(), key=len))
    r = run_status("--json")
    try:
        data = json.loads(r.stdout)
    except ValueError:
        data = {}
    c.check("--json prints the snapshot's data", r.returncode == 0 and data.get("overall") == "healthy" and
            {s["name"] for s in data.get("services", [])} == {"node", "app", "healer"}, r.stdout[:300])

    # tmux: a private server with a plain shell, 80x24.
    env_shell = f"env -u NO_COLOR PS1='$ ' bash --norc --noprofile"
    rc = tmux_cmd("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", env_shell)
    if rc.returncode != 0:
        raise AssertionError(f"tmux new-session: {rc.stderr}")
    tmux_cmd("send-keys", "-t", "t", f"{a.vigil} status --url {vigil.url}; echo status-rc=$?", "Enter")
    wait_screen(lambda s: "status-rc=0" in s, "vigil status in tmux")
    c.check("on a TTY, vigil status uses colour", "\x1b[" in screen(escapes=True))
    clear_screen()
    tmux_cmd("send-keys", "-t", "t", f"NO_COLOR=1 {a.vigil} status --url {vigil.url}; echo status-rc=$?", "Enter")
    wait_screen(lambda s: "status-rc=0" in s, "vigil status with NO_COLOR in tmux")
    coloured = [l for l in screen(escapes=True).splitlines() if "\x1b[" in l]
    c.check("with NO_COLOR, no colour even on a TTY", coloured == [], repr(coloured[:3]))

    # Kill the unit: down, exit 2.
    sd.systemctl("kill", "-s", "KILL", UNIT)
    snap = vt.wait_until(lambda: (lambda s: s if service(s, "node")["state"] == "down" else None)(status()),
                         timeout=5, what="node down")
    c.check("a killed unit makes its service down, and the overall critical",
            snap["data"]["overall"] == "critical" and service(snap, "app")["state"] == "up", str(snap)[:300])
    c.check("down since the unit stopped", service(snap, "node")["since"] is not None and
            time.time() - 10 < service(snap, "node")["since"] <= time.time() + 1, str(service(snap, "node")))
    r = run_status()
    c.check("vigil status exits 2 when a service is down", r.returncode == 2 and b"x DOWN" in r.stdout,
            f"{r.returncode} {r.stdout.decode()}")

    sd.systemctl("start", UNIT)
    vt.wait_until(lambda: service(status(), "node")["state"] == "up", timeout=5, what="node up again")
    r = run_status()
    c.check("started again: up, exit 0", r.returncode == 0, f"{r.returncode} {r.stdout.decode()}")

    # A P1 alert of the service (bitcoind in IBD): degraded, warning, exit 1.
    bitcoind.scenario("ibd")
    snap = vt.wait_until(lambda: (lambda s: s if service(s, "node")["state"] == "degraded" else None)(status()),
                         timeout=8, what="node degraded by its P1 alert")
    node = service(snap, "node")
    c.check("a P1 alert of the service degrades it; overall warning",
            snap["data"]["overall"] == "warning" and node["alerts"]["P1"] == 1 and
            {h["name"]: h["text"] for h in node["health"]}.get("ibd") == "yes", str(node))
    r = run_status()
    c.check("vigil status exits 1 on a warning", r.returncode == 1 and b"~ DEGRADED" in r.stdout and
            b"[P1] NodeInIBD" in r.stdout, f"{r.returncode} {r.stdout.decode()}")
    bitcoind.scenario("ok")
    vt.wait_until(lambda: status()["data"]["overall"] == "healthy", timeout=8, what="healthy again")

    # vigil restarts the healer's unit: recovering (a warning) until verified, then up.
    vt.wait_until(lambda: service(status(), "healer")["state"] == "up", timeout=8, what="healer up")
    sd.systemctl("kill", "-s", "KILL", HEALER_UNIT)
    snap = vt.wait_until(lambda: (lambda s: s if service(s, "healer")["state"] == "recovering" else None)(status()),
                         timeout=8, what="healer recovering")
    c.check("a restart by vigil's recovery shows as recovering, overall warning",
            snap["data"]["overall"] == "warning" and service(snap, "healer")["since"] is not None, str(snap)[:400])
    vt.wait_until(lambda: service(status(), "healer")["state"] == "up", timeout=15, what="healer verified up")
    vt.wait_until(lambda: status()["data"]["overall"] == "healthy", timeout=8, what="healthy after the recovery")

    port = vt.free_port()
    r = subprocess.run([a.vigil, "status", "--url", f"http://127.0.0.1:{port}"], capture_output=True, timeout=20)
    c.check("unreachable vigil: exit 3 naming the URL", r.returncode == 3 and
            f"127.0.0.1:{port}".encode() in r.stderr, f"{r.returncode} {r.stderr!r}")

    # vigil top
    clear_screen()
    tmux_cmd("send-keys", "-t", "t", f"{a.vigil} top --url {vigil.url}; echo top-rc=$?", "Enter")
    s = wait_screen(lambda s: "[1 Services]" in s and "node" in s and "app" in s, "vigil top's services pane")
    lines = s.splitlines()
    c.check("top fits 80x24", len(lines) <= 24 and all(len(l) <= 80 for l in lines), s)
    c.check("top's overview shows the services and their state", "+ up" in s and "blocks 850000" in s, s)
    tmux_cmd("send-keys", "-t", "t", "3")
    s = wait_screen(lambda s: "[3 Host]" in s, "host pane")
    c.check("3 shows the host pane", "cpu" in s and "memory" in s and "STATE" not in s, s)
    tmux_cmd("send-keys", "-t", "t", "Tab")
    s = wait_screen(lambda s: "[1 Services]" in s, "Tab cycles to the services pane")
    c.check("Tab cycles the panes", "STATE" in s)

    sd.systemctl("kill", "-s", "KILL", UNIT)
    t0 = time.monotonic()
    s = wait_screen(lambda s: "x DOWN" in s, "top shows the killed unit's service down", timeout=5)
    c.check("top shows a service going down within 2 s", time.monotonic() - t0 < 2.5, f"{time.monotonic() - t0:.2f}s")
    sd.systemctl("start", UNIT)
    wait_screen(lambda s: "x DOWN" not in s and "+ up" in s, "top shows it up again")

    # A larger window is used at once (SIGWINCH): the key line moves to the new last row.
    tmux_cmd("resize-window", "-t", "t", "-x", "120", "-y", "30")
    s = wait_screen(lambda s: len(s.splitlines()) >= 30 and "q quit" in s.splitlines()[29], "top redrawn at 120x30")
    c.check("top follows a resize", "[1 Services]" in s.splitlines()[0], s)
    tmux_cmd("resize-window", "-t", "t", "-x", "80", "-y", "24")
    wait_screen(lambda s: "q quit" in s.splitlines()[-1] and len(s.splitlines()) <= 24, "top redrawn at 80x24")

    tmux_cmd("send-keys", "-t", "t", "2")
    s = wait_screen(lambda s: "[2 Alerts]" in s and "AlwaysFiring" in s, "alerts pane")
    tmux_cmd("send-keys", "-t", "t", "s")
    wait_screen(lambda s: "silence AlwaysFiring for" in s, "the duration prompt")
    tmux_cmd("send-keys", "-t", "t", "Escape")
    s = wait_screen(lambda s: "silence cancelled" in s, "Esc cancels the prompt")
    c.check("2 shows the alerts, the first selected", "> [P3] AlwaysFiring" in s, s)
    tmux_cmd("send-keys", "-t", "t", "j")
    tmux_cmd("send-keys", "-t", "t", "k")
    tmux_cmd("send-keys", "-t", "t", "s")
    wait_screen(lambda s: "silence AlwaysFiring for" in s and "1h_" in s, "the duration prompt (default 1h)")
    tmux_cmd("send-keys", "-t", "t", "BSpace", "BSpace", "30m", "Enter")
    wait_screen(lambda s: "comment" in s, "the comment prompt")
    tmux_cmd("send-keys", "-t", "t", "-l", "from the status test")
    tmux_cmd("send-keys", "-t", "t", "Enter")
    s = wait_screen(lambda s: "silenced AlwaysFiring for 30m" in s, "the silence confirmation")
    sil = json.loads(vt.get(vigil.url + "/api/v2/silences")[2])
    mine = [x for x in sil if x["comment"] == "from the status test"]
    ok = len(mine) == 1
    if ok:
        m = {x["name"]: x["value"] for x in mine[0]["matchers"] if x["isEqual"] and not x["isRegex"]}
        ok = (m.get("alertname") == "AlwaysFiring" and m.get("service") == "node" and
              mine[0]["createdBy"] == os.environ.get("USER", "vigil") and mine[0]["status"]["state"] == "active")
    c.check("s silences the selected alert (matchers from its labels, created_by $USER)", ok, json.dumps(sil)[:500])
    firing = {x["name"]: x for x in status()["data"]["alerts"]["firing"]}
    c.check("the snapshot marks the alert silenced (and still counts it)",
            firing.get("AlwaysFiring", {}).get("silenced") is True, str(firing))
    wait_screen(lambda s: "(silenced) fires for" in s, "top shows the alert silenced")

    # Ctrl-Z gives the shell its screen back; fg resumes the view where it was.
    tmux_cmd("send-keys", "-t", "t", "C-z")
    s = wait_screen(lambda s: "Stopped" in s, "Ctrl-Z suspends top")
    c.check("Ctrl-Z gives the shell its screen back", "[2 Alerts]" not in s and "AlwaysFiring" not in s, s)
    tmux_cmd("send-keys", "-t", "t", "fg", "Enter")
    # The shell's own line also holds "vigil top": wait for top's redrawn pane, not that.
    s = wait_screen(lambda s: "[2 Alerts]" in s and "AlwaysFiring" in s, "fg resumes top", timeout=10)
    c.check("fg resumes top on the pane it showed", "vigil top" in s.splitlines()[0], s)

    tmux_cmd("send-keys", "-t", "t", "q")
    # A job resumed by fg loses the rest of its command line: ask for its status.
    wait_screen(lambda s: "[2 Alerts]" not in s, "top exits on q")
    tmux_cmd("send-keys", "-t", "t", "echo top-rc=$?", "Enter")
    s = wait_screen(lambda s: "top-rc=0" in s, "top's exit status 0")
    c.check("q restores the terminal (the shell is back, no pane left)", "[2 Alerts]" not in s, s)
    cur = tmux_cmd("display-message", "-p", "-t", "t", "#{cursor_flag}").stdout.strip()
    c.check("the cursor is visible again", cur == "1", cur)

    clear_screen()
    tmux_cmd("send-keys", "-t", "t", f"NO_COLOR=1 {a.vigil} top --url {vigil.url}; echo top-rc=$?", "Enter")
    wait_screen(lambda s: "[1 Services]" in s and "node" in s, "top with NO_COLOR")
    tmux_cmd("send-keys", "-t", "t", "2")
    wait_screen(lambda s: "> [P3] AlwaysFiring" in s, "alerts pane with NO_COLOR")
    coloured = [l for l in screen(escapes=True).splitlines() if "\x1b[" in l]
    c.check("top with NO_COLOR draws no colour (the selection is the '>' alone)", coloured == [], repr(coloured[:3]))
    tmux_cmd("send-keys", "-t", "t", "q")
    wait_screen(lambda s: s.count("top-rc=0") >= 1 and "[2 Alerts]" not in s, "top with NO_COLOR exits")

    r = subprocess.run([a.vigil, "top", "--url", vigil.url], capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=10)
    c.check("top without a terminal refuses with a reason", r.returncode != 0 and b"terminal" in r.stderr,
            f"{r.returncode} {r.stderr!r}")

c.finish()
