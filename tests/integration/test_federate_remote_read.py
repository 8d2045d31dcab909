"""vigil's /federate and /api/v1/read against real Prometheus 2.42 peers.

One vigil collects host metrics every second and holds two hours of demo data
imported from querydata.py's OpenMetrics file; its config sets an external
label. (a) A Prometheus federates from vigil (`honor_labels`, `/federate`,
match[]): every sample it stored is the one vigil holds at that timestamp,
and instant queries at the same time agree. (b) A second Prometheus without
data of its own reads remotely from vigil (through a recording proxy, to
see which response type Prometheus asks for): its query_range over the demo
window equals vigil's own, value for value. A stdlib client (remoteread.py)
then asks vigil for both response types and compares them with the imported
file; the same client reads real Prometheus's SAMPLES and STREAMED_XOR_CHUNKS
answers first, which proves its snappy and XOR decoders on Prometheus's own
bytes before they judge vigil's."""
import http.server
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import querydata as qd
import remoteread as rr
import vigiltest as vt

a = vt.args()
prometheus = vt.need("prometheus")
c = vt.Checks()

EXT = ("site", "itest")
FEDERATE_MATCH = ['{__name__=~"node_load1|node_memory_MemTotal_bytes"}', 'node_cpu_seconds_total{mode="idle"}',
                  "demo_load"]
RR_QUERIES = [
    "demo_load",
    "rate(demo_http_requests_total[5m])",
    "sum by (instance) (rate(demo_http_requests_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(demo_latency_seconds_bucket[5m])))",
    "avg_over_time(demo_temp_celsius[10m])",
]
RANGE = (qd.T0 + 1800.5, qd.T0 + 7100.5, 60)


def query(base, path, params):
    req = urllib.request.Request(base + path, data=urllib.parse.urlencode(params).encode(), method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.loads(r.read().decode())
    if body.get("status") != "success":
        raise RuntimeError(f"{base}{path} {params}: {body}")
    return body["data"]


def by_labels(data, drop=()):
    """{sorted label pairs without `drop`: [(t, value string), …]} of a vector or matrix."""
    out = {}
    for s in data["result"]:
        key = tuple(sorted((k, v) for k, v in s["metric"].items() if k not in drop))
        pts = [s["value"]] if "value" in s else s["values"]
        out[key] = [(round(float(p[0]) * 1000), p[1]) for p in pts]
    return out


def close(x, y):
    x, y = float(x), float(y)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def start_prometheus(tmp, name, config):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        f.write(config)
    port = vt.free_port()
    log = open(os.path.join(d, "prometheus.log"), "w")
    proc = subprocess.Popen([prometheus, f"--config.file={d}/prometheus.yml", f"--storage.tsdb.path={d}/data",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    vt.wait_until(lambda: proc.poll() is None and vt.get(url + "/-/ready")[0] == 200, timeout=60, interval=0.2,
                  what=f"Prometheus {name} ready (log {d}/prometheus.log)")
    return proc, url


class Proxy:
    """Forwards POSTs to `target`, noting each request's accepted response
    types and the Content-Type of the answer."""

    def __init__(self, target):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    accepted = rr.accepted_types(rr.snappy_decompress(body))
                except Exception as e:  # noqa: BLE001 — recorded, vigil answers the same bytes
                    accepted = f"undecodable: {e}"
                req = urllib.request.Request(target + self.path, data=body, method="POST")
                for k in ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Read-Version"):
                    if self.headers.get(k):
                        req.add_header(k, self.headers[k])
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, headers, out = r.status, r.headers, r.read()
                except urllib.error.HTTPError as e:
                    status, headers, out = e.code, e.headers, e.read()
                seen.append((accepted, status, headers.get("Content-Type")))
                self.send_response(status)
                for k in ("Content-Type", "Content-Encoding"):
                    if headers.get(k):
                        self.send_header(k, headers[k])
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def demo_truth():
    """The imported file's samples: {labels: [(t_ms, value), …]}."""
    out = {}
    for line in qd.openmetrics().splitlines():
        if line.startswith("#"):
            continue
        series, value, ts = line.rsplit(" ", 2)
        name, _, rest = series.partition("{")
        labels = [("__name__", name)]
        for pair in rest.rstrip("}").split(","):
            if pair:
                k, _, v = pair.partition("=")
                labels.append((k, v.strip('"')))
        out.setdefault(tuple(sorted(labels)), []).append((round(float(ts) * 1000), float(value)))
    return out


tmp = tempfile.mkdtemp(prefix="vigil-fed.")
v = None
procs = []
proxy = None
with vt.running(lambda: v, lambda: [vt.stop_process(p) for p in procs], lambda: proxy and proxy.stop(),
                lambda: shutil.rmtree(tmp, ignore_errors=True)):
    om = os.path.join(tmp, "data.om")
    qd.write(om)
    vdata = os.path.join(tmp, "vigil-data")
    p = subprocess.run([a.vigil, "tsdb", "import", om, "--data-dir", vdata], capture_output=True, text=True,
                       timeout=240)
    c.check("vigil tsdb import loads the demo data", p.returncode == 0, p.stdout + p.stderr)
    v = vt.Vigil(a.vigil, f"global:\n  external_labels:\n    {EXT[0]}: {EXT[1]}\nhost:\n  interval: 1s\n"
                 "storage:\n  retention: 100y\n", data_dir=vdata)
    v.wait_ready(timeout=30)
    # Ready means serving, not that the first host round is stored: under ASan that can take a while.
    vt.wait_until(lambda: vt.has_data(v.url, "node_load1", time.time()), timeout=30, what="node_load1 stored")

    # --- /federate directly: its shape and its errors.
    st, hd, body = vt.get(v.url + "/federate?" + urllib.parse.urlencode([("match[]", m) for m in FEDERATE_MATCH]))
    lines = body.splitlines()
    c.check("/federate answers text 0.0.4", st == 200 and hd.get("Content-Type", "").startswith(
        "text/plain; version=0.0.4"), hd)
    c.check("/federate writes '# TYPE node_load1 untyped' and samples with ms timestamps and the external label",
            "# TYPE node_load1 untyped" in lines and any(
                l.startswith("node_load1{") and f'{EXT[0]}="{EXT[1]}"' in l and len(l.split()[-1]) == 13
                for l in lines), body[:800])
    c.check("/federate leaves out demo_load (its samples are years older than the 5 m lookback)",
            "demo_load" not in body)
    for desc, params, want in (("no match[]", [], 'invalid parameter "match[]"'),
                               ("a bad selector", [("match[]", "up{")], 'invalid parameter "match[]"')):
        try:
            vt.get(v.url + "/federate?" + urllib.parse.urlencode(params))
            code, text = 200, ""
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read().decode()
        c.check(f"/federate with {desc}: 400 naming match[]", code == 400 and want in text, f"{code} {text}")

    # --- (a) a real Prometheus federates from vigil.
    prom_a, url_a = start_prometheus(tmp, "federating", f"""global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': {json.dumps(FEDERATE_MATCH)}
    static_configs:
      - targets: ['127.0.0.1:{v.port}']
""")
    procs.append(prom_a)

    def target_health():
        t = vt.api(url_a, "/api/v1/targets")["activeTargets"]
        return t and t[0]["health"] == "up" and t[0]
    target = vt.wait_until(target_health, timeout=30, interval=0.25, what="federation target up")
    c.check("Prometheus scrapes /federate without error", target.get("lastError", "") == "", target)
    vt.wait_until(lambda: query(url_a, "/api/v1/query", {"query": "count_over_time(node_load1[1m]) >= 4"})["result"],
                  timeout=40, interval=0.5, what="four federated samples of node_load1")

    now = time.time()
    total_points, problems, series_n = 0, [], 0
    for sel in FEDERATE_MATCH:
        pa = by_labels(query(url_a, "/api/v1/query", {"query": f"{sel}[2m]", "time": f"{now:.3f}"}))
        vv = by_labels(query(v.url, "/api/v1/query", {"query": f"{sel}[3m]", "time": f"{now:.3f}"}))
        if sel == "demo_load":
            c.check("Prometheus holds no federated demo_load", not pa, pa)
            continue
        for key, pts in pa.items():
            series_n += 1
            d = dict(key)
            if d.pop(EXT[0], None) != EXT[1]:
                problems.append(f"{dict(key)} lacks {EXT[0]}={EXT[1]}")
            vkey = tuple(sorted(d.items()))
            if vkey not in vv:
                problems.append(f"{d} is not a vigil series")
                continue
            have = dict(vv[vkey])
            for t, val in pts:
                total_points += 1
                if t not in have or have[t] != val:
                    problems.append(f"{d} at {t}: Prometheus {val}, vigil {have.get(t)}")
    c.check(f"every sample Prometheus federated ({total_points} in {series_n} series) is vigil's sample "
            f"at that timestamp", series_n >= 3 and total_points >= 4 * series_n and not problems,
            "\n".join(problems[:10]))

    # Instant queries at the newest federated timestamp: the same series and values.
    newest = max(t for t, _ in by_labels(query(url_a, "/api/v1/query", {"query": "node_load1[1m]"})).popitem()[1])
    at = f"{newest / 1000:.3f}"
    diffs, n = [], 0
    for sel in FEDERATE_MATCH[:2]:
        pa = by_labels(query(url_a, "/api/v1/query", {"query": sel, "time": at}), drop=(EXT[0],))
        vv = by_labels(query(v.url, "/api/v1/query", {"query": sel, "time": at}))
        n += len(pa)
        if set(pa) != set(vv):
            diffs.append(f"{sel}: series only in Prometheus {sorted(set(pa) - set(vv))[:3]}, "
                         f"only in vigil {sorted(set(vv) - set(pa))[:3]}")
        diffs += [f"{dict(k)}: Prometheus {pa[k]} vigil {vv[k]}" for k in set(pa) & set(vv) if pa[k] != vv[k]]
    c.check(f"instant queries at {at} agree on {n} series (Prometheus vs vigil)", n >= 3 and not diffs,
            "\n".join(diffs[:10]))

    # The stdlib decoders on real Prometheus's bytes first.
    # Ending at the newest federated sample seen above: every sample of the
    # window is in Prometheus already (later ones have later timestamps).
    end_ms = newest
    start_ms = end_ms - 120000
    want = by_labels(query(url_a, "/api/v1/query", {"query": "node_load1[2m]", "time": f"{end_ms / 1000:.3f}"}))
    want = {k: [(t, float(x)) for t, x in pts] for k, pts in want.items()}
    req = rr.read_request([(start_ms, end_ms, [(rr.EQ, "__name__", "node_load1")])], [rr.STREAMED_XOR_CHUNKS])
    st, hd, body = rr.post(url_a + "/api/v1/read", req)
    got, _, _ = rr.decode_streamed(body)
    # Prometheus streams whole chunks, samples outside the range included.
    got = {k: [(t, x) for t, x in pts if start_ms <= t <= end_ms] for k, pts in got.get(0, {}).items()}
    c.check(f"the stdlib XOR chunk decoder reads Prometheus's own STREAMED_XOR_CHUNKS answer "
            f"({sum(len(p) for p in want.values())} samples)",
            st == 200 and want and got == want, f"{st} {hd} {got} {want}"[:1500])
    st, hd, body = rr.post(url_a + "/api/v1/read", rr.read_request(
        [(start_ms, end_ms, [(rr.EQ, "__name__", "node_load1")])], [rr.SAMPLES]))
    c.check("the stdlib snappy decoder reads Prometheus's own SAMPLES answer",
            st == 200 and want and rr.decode_samples(body) == [want], f"{st} {body[:200]!r}")

    # --- (b) a real Prometheus without data reads remotely from vigil.
    proxy = Proxy(v.url)
    prom_b, url_b = start_prometheus(tmp, "remote-reading", f"""global: {{}}
remote_read:
  - url: {proxy.url}/api/v1/read
    read_recent: true
""")
    procs.append(prom_b)
    start, end, step = RANGE
    for q in RR_QUERIES:
        params = {"query": q, "start": str(start), "end": str(end), "step": str(step)}
        pb = by_labels(query(url_b, "/api/v1/query_range", params), drop=(EXT[0],))
        pb_raw = query(url_b, "/api/v1/query_range", params)["result"]
        vv = by_labels(query(v.url, "/api/v1/query_range", params))
        bad = []
        if set(pb) != set(vv):
            bad.append(f"series only in Prometheus {sorted(set(pb) - set(vv))[:3]}, "
                       f"only in vigil {sorted(set(vv) - set(pb))[:3]}")
        for k in set(pb) & set(vv):
            if [t for t, _ in pb[k]] != [t for t, _ in vv[k]]:
                bad.append(f"{dict(k)}: different steps")
            bad += [f"{dict(k)} at {t}: Prometheus {x} vigil {y}"
                    for (t, x), (_, y) in zip(pb[k], vv[k]) if not close(x, y)]
        points = sum(len(p) for p in vv.values())
        c.check(f"remote read: Prometheus's query_range of {q} equals vigil's ({len(vv)} series, {points} points)",
                vv and points > len(vv) and not bad, "\n".join(bad[:8]))
        if q == "demo_load":
            c.check("remote-read series carry vigil's external label",
                    all(s["metric"].get(EXT[0]) == EXT[1] for s in pb_raw), pb_raw[:1])
    kinds = sorted({(str(acc), status, ct) for acc, status, ct in proxy.seen})
    c.check(f"Prometheus 2.42's remote read requests were all answered (accepted types, status, "
            f"Content-Type): {kinds}", proxy.seen and all(s == 200 for _, s, _ in proxy.seen), proxy.seen[:5])

    # --- Both response types from vigil, judged against the imported file.
    truth = {k: pts for k, pts in demo_truth().items() if dict(k)["__name__"] == "demo_load"}
    lo, hi = int((qd.T0 + 600) * 1000), int((qd.T0 + 6000) * 1000)
    window = {k: [(t, x) for t, x in pts if lo <= t <= hi] for k, pts in truth.items()}
    ext_window = {tuple(sorted(k + (EXT,))): pts for k, pts in window.items()}
    matchers = [(rr.EQ, "__name__", "demo_load"), (rr.RE, "instance", "a|b|c"), (rr.NEQ, "job", "x")]
    st, hd, body = rr.post(v.url + "/api/v1/read", rr.read_request([(lo, hi, matchers)], [rr.SAMPLES]))
    samples = rr.decode_samples(body) if st == 200 else None
    c.check("vigil's SAMPLES answer (snappy, x-protobuf) holds the imported samples with the external label",
            st == 200 and hd.get("Content-Encoding") == "snappy" and hd.get("Content-Type") == "application/x-protobuf"
            and samples == [ext_window], f"{st} {hd} {body[:300]!r}")
    st, hd, body = rr.post(v.url + "/api/v1/read", rr.read_request(
        [(lo, hi, matchers), (lo, lo + 60000, [(rr.RE, "__name__", "demo_temp_.*")])],
        [rr.STREAMED_XOR_CHUNKS, rr.SAMPLES]))
    streamed, frames, most = rr.decode_streamed(body) if st == 200 else ({}, [], 0)
    c.check("vigil's STREAMED_XOR_CHUNKS answer decodes (Prometheus XOR, CRC-32C) to the same samples, "
            f"chunks of at most 120 samples (largest {most}), {len(frames)} frames each under 1 MiB",
            st == 200 and hd.get("Content-Type") ==
            "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
            and streamed.get(0) == ext_window and len(streamed.get(1, {})) == 2 and most == 120
            and max(frames) < (1 << 20), f"{st} {hd} {sorted(streamed)} {frames[:5]}")

    for desc, raw, want_text in (
            ("garbage", None, "not snappy"),
            ("a bad regex", rr.read_request([(lo, hi, [(rr.RE, "job", "(")])]), "query 0: matcher job=~\"(\""),
            ("no matchers", rr.read_request([(lo, hi, [])]), "query 0: no matchers")):
        if raw is None:
            r = urllib.request.Request(v.url + "/api/v1/read", data=b"\xff" * 40, method="POST")
            try:
                urllib.request.urlopen(r, timeout=10)
                code, text = 200, ""
            except urllib.error.HTTPError as e:
                code, text = e.code, e.read().decode()
        else:
            code, _, text = rr.post(v.url + "/api/v1/read", raw)
            text = text.decode()
        c.check(f"remote read of {desc}: 400 saying \"{want_text}\"", code == 400 and want_text in text,
                f"{code} {text}")

c.finish()
