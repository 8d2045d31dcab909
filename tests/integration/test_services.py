"""The validator stack's services end to end: `vigil run` with probes, the
bitcoind/titan/validator modules and an update check from its configuration,
against the emulated peers in tests/emulators. Checks the values on /metrics,
that each failure mode gives its error metric and a log line naming the
target, that a hanging peer stalls nobody else, and that no secret leaks."""
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-services.")
cookie = os.path.join(work, ".cookie")
cert = os.path.join(work, "cert.pem")
key = os.path.join(work, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=vigil-test"],
               check=True, capture_output=True, timeout=30)
version_file = os.path.join(work, "VERSION")
with open(version_file, "w") as f:
    f.write("validator 1.2.3\n")


# GitHub's releases/latest shape, served from loopback.
class Releases(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = json.dumps({"tag_name": "v1.3.0", "draft": False, "prerelease": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


releases = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Releases)
threading.Thread(target=releases.serve_forever, daemon=True).start()

bitcoind = vt.Emulator(a.source_dir, "bitcoind", "--cookie-file", cookie)
titan = vt.Emulator(a.source_dir, "titan")
validator = vt.Emulator(a.source_dir, "validator")
reference = vt.Emulator(a.source_dir, "validator")
closed_port = vt.free_port()

CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
services:
  bitcoind:
    bitcoind: {{url: '{bitcoind.url}/', cookie_file: '{cookie}', interval: 1s, timeout: 800ms}}
    probes:
      - {{name: p2p, type: tcp, target: '127.0.0.1:{closed_port}', interval: 1s, timeout: 500ms}}
  titan:
    depends_on: [bitcoind]
    titan: {{url: '{titan.url}', interval: 1s, timeout: 800ms}}
    probes:
      - {{name: tip, type: http, url: '{titan.url}/status', json_pointer: /block_tip/is_at_tip, json_equals: true,
          interval: 1s, timeout: 800ms}}
  validator:
    depends_on: [titan]
    validator: {{url: '{validator.url}/', references: ['{reference.url}/'], interval: 1s, timeout: 800ms}}
    probes:
      - {{name: rpc, type: jsonrpc, url: '{validator.url}/', method: is_node_ready, extract: {{ready: ''}},
          interval: 1s, timeout: 800ms}}
      - {{name: cert, type: tls, file: '{cert}', interval: 1s}}
    updates: {{version_file: '{version_file}', releases: 'http://127.0.0.1:{releases.server_address[1]}/latest',
               interval: 1s, timeout: 800ms}}
"""

v = None
try:
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()

    def fams():
        return vt.parse_exposition(v.metrics())

    def sample(metric, f=None, **labels):
        fam = (f or fams()).get(metric)
        for ls, value in (fam or {"samples": {}})["samples"].items():
            d = dict(ls)
            if all(d.get(k) == val for k, val in labels.items()):
                return value
        return None

    def wait_value(metric, want, timeout=8, **labels):
        try:
            return vt.wait_until(lambda: sample(metric, **labels) == want, timeout=timeout, interval=0.1,
                                 what=f"{metric}{labels} == {want}")
        except AssertionError as e:
            return str(e)

    def errors(reason, **labels):
        """The sum over every series matching `labels` (the scheduler's own has no target)."""
        fam = fams().get("vigil_collector_errors_total") or {"samples": {}}
        want = dict(labels, reason=reason)
        return sum(val for ls, val in fam["samples"].items() if all(dict(ls).get(k) == x for k, x in want.items()))

    # Every module and probe ran from the configuration.
    c.check("bitcoind blocks via cookie auth", wait_value("vigil_bitcoind_blocks", 850000, service="bitcoind") is True)
    c.check("bitcoind peers", sample("vigil_bitcoind_peers", service="bitcoind") == 10)
    c.check("titan height", wait_value("vigil_titan_block_height", 850000, service="titan") is True)
    c.check("titan lag against the bitcoind it depends on",
            wait_value("vigil_titan_height_lag_blocks", 0, service="titan", bitcoind="bitcoind") is True)
    c.check("validator height", wait_value("vigil_validator_block_height", 1000, service="validator") is True)
    c.check("validator lag vs reference", wait_value("vigil_validator_height_lag_blocks", 0, service="validator") is True)
    c.check("jsonrpc extract into a gauge",
            wait_value("vigil_probe_value", 1, service="validator", probe="rpc", name="ready") is True)
    c.check("http json_equals passes", wait_value("vigil_probe_success", 1, service="titan", probe="tip") is True)
    expiry = sample("vigil_probe_tls_cert_expiry_seconds", service="validator", probe="cert")
    c.check("tls file expiry (a timestamp) about a day away",
            expiry is not None and 0 < expiry - time.time() < 86400 * 1.01, expiry)
    c.check("update available with both versions",
            wait_value("vigil_update_available", 1, service="validator", installed="1.2.3", latest="1.3.0") is True)
    c.check("tcp probe to a closed port fails",
            wait_value("vigil_probe_success", 0, service="bitcoind", probe="p2p") is True)
    c.check("closed port counted as connection_refused with its target",
            errors("connection_refused", target=f"127.0.0.1:{closed_port}") >= 1)

    # Failure modes: each gives its reason on the metric and a log line naming the target.
    reference.scenario("ok", height=1010)
    c.check("validator behind its reference", wait_value("vigil_validator_height_lag_blocks", 10,
                                                         service="validator") is True)
    titan.scenario("ok", is_at_tip=False, height=849990)
    c.check("titan lag grows", wait_value("vigil_titan_height_lag_blocks", 10, service="titan") is True)
    c.check("json_equals mismatch fails the http probe",
            wait_value("vigil_probe_success", 0, service="titan", probe="tip") is True)
    titan.scenario("http_500")
    c.check("titan HTTP 500 -> vigil_titan_up 0", wait_value("vigil_titan_up", 0, service="titan") is True)
    c.check("titan HTTP 500 counted",
            vt.wait_until(lambda: errors("http_500", target=f"{titan.url}/status") >= 1, timeout=5, what="http_500"))
    titan.scenario("garbage")
    c.check("titan garbage counted", vt.wait_until(lambda: errors("bad_json", target=f"{titan.url}/status") >= 1,
                                                   timeout=5, what="bad_json"))
    validator.scenario("rpc_error", code=-32601, message="Method not found")
    c.check("validator JSON-RPC error object reported",
            wait_value("vigil_probe_jsonrpc_error_code", -32601, service="validator", probe="rpc") is True)
    bitcoind.scenario("ibd")
    c.check("bitcoind initial block download",
            wait_value("vigil_bitcoind_initial_block_download", 1, service="bitcoind") is True)

    # A hanging peer stalls only its own collector.
    bitcoind.scenario("slow", delay=5)
    before = sample("vigil_collector_runs_total", collector="validator/validator") or 0
    timeouts = vt.wait_until(lambda: errors("timeout", collector="bitcoind/bitcoind", target=f"{bitcoind.url}/") >= 3,
                             timeout=8, what="three bitcoind timeouts")
    after = sample("vigil_collector_runs_total", collector="validator/validator") or 0
    c.check("bitcoind timeout reported", timeouts)
    c.check("validator kept running while bitcoind hung", after >= before + 2, f"{before} -> {after}")
    c.check("a timeout is reported once, by the collector, not also by the scheduler",
            (sample("vigil_collector_errors_total", collector="bitcoind/bitcoind", reason="timeout", target="") or 0)
            == 0)

    # Recovery.
    for e in (bitcoind, titan, validator, reference):
        e.scenario("ok")
    c.check("titan recovers", wait_value("vigil_titan_up", 1, service="titan") is True)
    c.check("bitcoind recovers", wait_value("vigil_bitcoind_up", 1, service="bitcoind") is True)

    logs = v.logs()
    c.check("log line names the titan target and reason",
            f"{titan.url}/status" in logs and "http_500" in logs, logs[-1500:])
    with open(cookie) as f:
        secret = f.read().split(":", 1)[1]
    c.check("cookie secret never in /metrics or the log", secret not in v.metrics() and secret not in logs)
finally:
    if v:
        v.cleanup()
    for e in (bitcoind, titan, validator, reference):
        e.stop()
    releases.shutdown()
c.finish()
