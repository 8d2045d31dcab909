"""Textfile collector and scraping another /metrics endpoint, through `vigil
run`: values on /metrics and in storage (PromQL), Prometheus's label rules
for job/instance conflicts with and without honor_labels, and bad input
(a broken file, a target answering garbage or 500) reported with its reason
while everything else keeps flowing."""
import http.server
import json
import os
import tempfile
import threading
import urllib.parse

import vigiltest as vt

a = vt.args()
c = vt.Checks()

body = {"text": ('# HELP app_requests_total Requests served.\n# TYPE app_requests_total counter\n'
                 'app_requests_total{code="200",job="inner",instance="x:1"} 7\n'
                 '# TYPE app_temperature gauge\napp_temperature 21.5\n'),
        "status": 200}


class Target(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        data = body["text"].encode()
        self.send_response(body["status"])
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
textdir = tempfile.mkdtemp(prefix="vigil-textfile.")
with open(os.path.join(textdir, "backup.prom.tmp"), "w") as f:
    f.write("# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds 1.7e9\n")
os.rename(os.path.join(textdir, "backup.prom.tmp"), os.path.join(textdir, "backup.prom"))

CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
textfile: {{directory: '{textdir}'}}
scrape:
  - {{job: app, url: 'http://127.0.0.1:{port}/metrics', interval: 1s}}
  - {{job: app-honor, url: 'http://127.0.0.1:{port}/metrics', interval: 1s, honor_labels: true}}
"""

v = None
try:
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()
    inst = f"127.0.0.1:{port}"

    def sample(metric, **labels):
        fam = vt.parse_exposition(v.metrics()).get(metric) or {"samples": {}}
        for ls, value in fam["samples"].items():
            if dict(ls) == labels:
                return value
        return None

    def query(expr):
        q = urllib.parse.urlencode({"query": expr})
        return json.loads(vt.get(f"{v.url}/api/v1/query?{q}")[2])["data"]["result"]

    vt.wait_until(lambda: sample("up", job="app", instance=inst) == 1, timeout=8, what="app scraped")
    c.check("scraped counter with job/instance; target's own kept as exported_",
            sample("app_requests_total", code="200", job="app", instance=inst, exported_job="inner",
                   exported_instance="x:1") == 7)
    c.check("honor_labels keeps the target's job and instance",
            sample("app_requests_total", code="200", job="inner", instance="x:1") == 7)
    c.check("a sample without conflicts gets the target labels",
            sample("app_temperature", job="app", instance=inst) == 21.5)
    c.check("scrape_samples_scraped", sample("scrape_samples_scraped", job="app", instance=inst) == 2)
    c.check("textfile value exposed", sample("backup_last_success_timestamp_seconds") == 1.7e9)
    c.check("textfile no error", sample("node_textfile_scrape_error") == 0)
    vt.wait_until(lambda: query('app_temperature{job="app"}'), timeout=5, what="scraped sample stored")
    c.check("scraped samples are stored and queryable",
            query('app_temperature{job="app"}')[0]["value"][1] == "21.5")
    c.check("textfile samples are stored",
            vt.wait_until(lambda: query("backup_last_success_timestamp_seconds"), timeout=5, what="textfile stored"))

    # Bad input: each reported with its reason, the rest keeps flowing.
    with open(os.path.join(textdir, "broken.prom"), "w") as f:
        f.write("ok_line 1\nbroken{ 2\n")
    vt.wait_until(lambda: sample("node_textfile_scrape_error") == 1, timeout=5, what="textfile error")
    c.check("broken textfile counted with parse_error and its path",
            (sample("vigil_collector_errors_total", collector="textfile", reason="parse_error",
                    target=os.path.join(textdir, "broken.prom")) or 0) >= 1)
    c.check("the good textfile still exposed", sample("backup_last_success_timestamp_seconds") == 1.7e9)
    body["text"] = "garbage{{{\n"
    vt.wait_until(lambda: sample("up", job="app", instance=inst) == 0, timeout=5, what="garbage target down")
    c.check("garbage target: parse_error counted",
            (sample("vigil_collector_errors_total", collector="scrape/app", reason="parse_error",
                    target=f"http://{inst}/metrics") or 0) >= 1)
    c.check("garbage target: its samples are gone from /metrics", sample("app_temperature", job="app",
                                                                          instance=inst) is None)
    body["status"] = 500
    c.check("HTTP 500 counted",
            vt.wait_until(lambda: (sample("vigil_collector_errors_total", collector="scrape/app", reason="http_500",
                                          target=f"http://{inst}/metrics") or 0) >= 1, timeout=5, what="http_500"))
    c.check("log line names the target", f"http://{inst}/metrics" in v.logs())
    c.check("vigil itself still healthy", vt.get(v.url + "/-/ready")[0] == 200)
finally:
    if v:
        v.cleanup()
    server.shutdown()
c.finish()
