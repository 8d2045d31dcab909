#!/usr/bin/env python3
"""`vigil alerts` against a stand-in server answering /api/v1/alerts with
Prometheus's JSON: the table lists firing alerts first, by severity, and
--json prints the API's data unchanged.

  alerts_cli.py --vigil PATH
"""
import argparse
import http.server
import json
import os
import subprocess
import sys
import threading

DATA = {"alerts": [
    {"labels": {"alertname": "DiskAlmostFull", "severity": "medium", "mountpoint": "/"},
     "annotations": {"summary": "/ has 9% free"}, "state": "pending",
     "activeAt": "2026-11-26T00:00:00Z", "value": "9e-02"},
    {"labels": {"alertname": "UnitDown", "severity": "high", "unit": "titan.service"},
     "annotations": {}, "state": "firing", "activeAt": "2026-11-26T00:01:00Z", "value": "0e+00"},
    {"labels": {"alertname": "UnitDown", "severity": "critical", "unit": "bitcoind.service"},
     "annotations": {"summary": "bitcoind is down"}, "state": "firing",
     "activeAt": "2026-11-26T00:02:00.5Z", "value": "0e+00"},
]}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "success", "data": DATA}).encode() if self.path == "/api/v1/alerts" else b"{}"
        self.send_response(200 if self.path == "/api/v1/alerts" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    vigil = os.path.abspath(args.vigil)
    table = subprocess.run([vigil, "alerts", "--server", url], capture_output=True, text=True, timeout=30)
    want = [
        "ALERT           STATE    SEVERITY  ACTIVE SINCE            VALUE  LABELS                 SUMMARY",
        "UnitDown        firing   critical  2026-11-26T00:02:00.5Z  0e+00  unit=bitcoind.service  bitcoind is down",
        "UnitDown        firing   high      2026-11-26T00:01:00Z    0e+00  unit=titan.service",
        "DiskAlmostFull  pending  medium    2026-11-26T00:00:00Z    9e-02  mountpoint=/           / has 9% free",
    ]
    ok = table.returncode == 0 and table.stdout.splitlines() == want
    print("table:", "ok" if ok else "MISMATCH\n" + table.stdout + table.stderr)
    js = subprocess.run([vigil, "alerts", "--json", "--server", url], capture_output=True, text=True, timeout=30)
    ok_json = js.returncode == 0 and json.loads(js.stdout) == DATA
    print("json:", "ok" if ok_json else "MISMATCH\n" + js.stdout + js.stderr)
    down = subprocess.run([vigil, "alerts", "--server", "http://127.0.0.1:1"], capture_output=True, text=True,
                          timeout=30)
    ok_down = down.returncode == 1 and "cannot reach" in down.stderr
    print("unreachable:", "ok" if ok_down else "MISMATCH\n" + down.stderr)
    server.shutdown()
    return 0 if ok and ok_json and ok_down else 1


if __name__ == "__main__":
    sys.exit(main())
