"""Alert rules inside `vigil run` against a real `systemd --user`: a unit
killed with SIGKILL fires a `for: 0s` P0 alert within a second although the
group's interval is 30 s (event-triggered evaluation); the alert survives a
restart of vigil with the same activeAt (SQLite state); it resolves when the
unit is back; a reload with a broken rule file keeps the running rules."""
import json
import os
import signal
import shutil
import tempfile
import time
import urllib.parse

import vigiltest as vt

a = vt.args()
c = vt.Checks()



sd = vt.user_systemd_or_skip({"vr-node.service": "[Service]\nExecStart=/bin/sleep 100000\nRestart=no\n"})

work = tempfile.mkdtemp(prefix="vigil-rules-agent.")
rules = os.path.join(work, "rules.yml")
RULES = """groups:
  - name: services
    interval: 30s
    rules:
      - alert: ServiceDown
        expr: vigil_service_up == 0
        for: 0s
        labels: {severity: P0}
        annotations:
          summary: '{{ $labels.service }} is down'
      - record: service:up:count
        expr: count(vigil_service_up == 1)
"""
with open(rules, "w") as f:
    f.write(RULES)
CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
systemd: {{bus: user}}
services:
  node: {{unit: vr-node.service}}
rule_files: ['{rules}']
"""

v = None
with vt.running(lambda: v, lambda: sd.cleanup(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    sd.systemctl("start", "vr-node.service")
    data_dir = os.path.join(work, "data")
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()

    def alerts():
        body = json.loads(vt.get(v.url + "/api/v1/alerts")[2])
        return [x for x in body["data"]["alerts"] if x["labels"].get("alertname") == "ServiceDown"]

    def firing():
        return [x for x in alerts() if x["state"] == "firing"]

    vt.wait_until(lambda: "vigil_service_up" in v.metrics(), timeout=10, what="unit state known")
    c.check("no alert while the unit runs", alerts() == [])
    rules_api = json.loads(vt.get(v.url + "/api/v1/rules")[2])
    names = [r["name"] for g in rules_api["data"]["groups"] for r in g["rules"]]
    c.check("/api/v1/rules lists both rules", names == ["ServiceDown", "service:up:count"], names)

    pid = int(sd.systemctl("show", "vr-node.service", "-p", "MainPID", "--value"))
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    vt.wait_until(firing, timeout=5, interval=0.01, what="ServiceDown firing")
    latency = time.monotonic() - t0
    print(f"kill -> P0 alert firing: {latency * 1000:.0f} ms (group interval 30 s)")
    # The issue asks < 2 s (goal < 1 s); a loaded CI machine needs the margin.
    c.check(f"P0 fires within 2 s of the kill ({latency * 1000:.0f} ms; goal < 1 s)", latency < 2.0)
    alert = firing()[0]
    c.check("severity P0 normalised to critical", alert["labels"].get("severity") == "critical", alert["labels"])
    c.check("annotation template expanded", alert["annotations"].get("summary") == "node is down", alert)
    active_at = alert["activeAt"]

    def query(expr):
        q = urllib.parse.urlencode({"query": expr})
        return json.loads(vt.get(f"{v.url}/api/v1/query?{q}")[2])["data"]["result"]

    c.check("ALERTS series written", vt.wait_until(lambda: query('ALERTS{alertname="ServiceDown",alertstate="firing"}'),
                                                   timeout=5, what="ALERTS"))

    # Restart vigil while the alert fires: same alert, same activeAt, no new one.
    v.stop()
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()
    restored = vt.wait_until(firing, timeout=10, what="alert restored")
    c.check("after a restart the alert is still firing with its activeAt",
            restored[0]["activeAt"] == active_at, f"{restored[0]['activeAt']} vs {active_at}")

    # A broken rule file on reload keeps the running rules.
    with open(rules, "w") as f:
        f.write("groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: 'rate(('\n")
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: "rule files reload failed" in v.logs(), timeout=5, what="reload refused")
    c.check("reload failure names the file and line", f"{rules}:5" in v.logs(), v.logs()[-800:])
    c.check("running rules kept", len(firing()) == 1)
    with open(rules, "w") as f:
        f.write(RULES)

    # The unit comes back: the alert resolves.
    t1 = time.monotonic()
    sd.systemctl("start", "vr-node.service")
    vt.wait_until(lambda: firing() == [], timeout=5, interval=0.01, what="alert resolved")
    c.check(f"resolved within 2 s of the unit's start ({(time.monotonic() - t1) * 1000:.0f} ms)",
            time.monotonic() - t1 < 2.0)
c.finish()
