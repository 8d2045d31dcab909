"""Forwarding to a real Alertmanager (Debian's prometheus-alertmanager 0.25):
vigil's alerts show up in Alertmanager's API, Alertmanager delivers them
through its own webhook receiver, the resolve follows, an Alertmanager that
restarts relearns the firing alerts from vigil's resends, and Alertmanager's
fingerprint of an alert equals the FNV-1a one vigil uses as dedup key."""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
am_bin = vt.need("prometheus-alertmanager")

received = []


class Hook(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        received.append(json.loads(self.rfile.read(n)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()

work = tempfile.mkdtemp(prefix="vigil-am.")
am_port = vt.free_port()
with open(os.path.join(work, "am.yml"), "w") as f:
    f.write(f"""route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}
receivers:
  - name: hook
    webhook_configs: [{{url: 'http://127.0.0.1:{hook.server_address[1]}/', send_resolved: true}}]
""")
am_log = open(os.path.join(work, "am.log"), "w")


def start_am():
    return subprocess.Popen([am_bin, f"--config.file={work}/am.yml", f"--storage.path={work}/am-data",
                             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                            stdout=am_log, stderr=subprocess.STDOUT)


am = start_am()
flag = os.path.join(work, "flag.prom")
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: g
    interval: 1s
    rules:
      - alert: DiskWillFill
        expr: forward_test_flag == 1
        labels: {severity: medium, service: bitcoind}
        annotations: {summary: 'disk fills ({{ $value }})'}
""")
CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{enabled: false}}
textfile: {{directory: '{work}'}}
rule_files: ['{rules}']
alerting:
  alertmanagers: [{{url: 'http://127.0.0.1:{am_port}', resend_interval: 2s}}]
"""


def fnv(labels):
    h = 14695981039346656037
    for k in sorted(labels):
        for part in (k, "\xff", labels[k], "\xff"):
            for b in part.encode("latin-1" if part == "\xff" else "utf-8"):
                h ^= b
                h = (h * 1099511628211) % (1 << 64)
    return f"{h:016x}"


def am_alerts():
    return json.loads(vt.get(f"http://127.0.0.1:{am_port}/api/v2/alerts")[2])


v = None
with vt.running(lambda: v, lambda: am.terminate(),
                lambda: am.wait(timeout=10),
                lambda: am_log.close(),
                lambda: hook.shutdown(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    vt.wait_until(lambda: vt.get(f"http://127.0.0.1:{am_port}/-/ready")[0] == 200, timeout=20, what="alertmanager")
    with open(flag, "w") as f:
        f.write("forward_test_flag 1\n")
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()
    got = vt.wait_until(lambda: [x for x in am_alerts() if x["labels"].get("alertname") == "DiskWillFill"],
                        timeout=15, what="the alert in Alertmanager")
    alert = got[0]
    c.check("the alert reached Alertmanager with its labels and annotations",
            alert["labels"].get("service") == "bitcoind" and
            alert["annotations"].get("summary") == "disk fills (1)", alert)
    c.check("Alertmanager's fingerprint is the FNV-1a vigil uses",
            alert["fingerprint"] == fnv(alert["labels"]), (alert["fingerprint"], fnv(alert["labels"])))
    c.check("Alertmanager delivered it through its webhook receiver",
            vt.wait_until(lambda: [r for r in received if r["status"] == "firing"], timeout=15, what="webhook"))

    # Alertmanager restarts (its memory is gone): vigil's resends restore the alert.
    am.terminate()
    am.wait(timeout=10)
    shutil.rmtree(os.path.join(work, "am-data"), ignore_errors=True)
    am = start_am()
    vt.wait_until(lambda: vt.get(f"http://127.0.0.1:{am_port}/-/ready")[0] == 200, timeout=20, what="alertmanager")
    c.check("a restarted Alertmanager relearns the firing alert from vigil's resends",
            vt.wait_until(lambda: [x for x in am_alerts() if x["labels"].get("alertname") == "DiskWillFill"],
                          timeout=15, what="alert relearned"))

    # The condition clears: the resolve is forwarded and Alertmanager sends it on.
    os.remove(flag)
    c.check("the resolve reaches Alertmanager's receiver",
            vt.wait_until(lambda: [r for r in received if r["status"] == "resolved"], timeout=30, what="resolved"))
c.finish()
