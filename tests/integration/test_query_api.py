"""The Prometheus HTTP API as Grafana's Prometheus data source uses it: data
backfilled with `vigil tsdb import`, then query / query_range (GET and POST
form), series / labels / label values with match[], start/end as RFC 3339 and
Unix seconds, checked for Prometheus's exact JSON shapes; errors (400 bad_data
for a malformed query, 422 over --query.max-samples, 404); `vigil query`."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import querydata as qd
import vigiltest as vt

a = vt.args()
c = vt.Checks()
tmp = tempfile.mkdtemp(prefix="vigil-api.")
v = None


def request(path, params=(), method="GET"):
    """Returns (status, content type, raw body); form-encodes params for POST like Grafana."""
    data = urllib.parse.urlencode(list(params))
    url = v.url + path
    req = urllib.request.Request(url + ("?" + data if method == "GET" and data else ""), method=method)
    if method == "POST":
        req.data = data.encode()
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def api(path, params=(), method="GET"):
    status, ctype, body = request(path, params, method)
    return status, ctype, body, json.loads(body)


def rfc3339(t):
    return subprocess.run(["date", "-u", "-d", f"@{t}", "+%Y-%m-%dT%H:%M:%S"], capture_output=True, text=True,
                          check=True).stdout.strip() + (f".{round((t % 1) * 1000):03d}Z" if t % 1 else "Z")


def last_value(name, labels, t):
    """The sample an instant query at t sees (lookback 5 m) from the generated file."""
    want = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    best = None
    for line in om.splitlines():
        if line.startswith(want + " "):
            _, val, ts = line.rsplit(" ", 2)
            if t - 300 < float(ts) <= t:
                best = val
    return best


def is_success_envelope(body):
    return body.get("status") == "success" and set(body) <= {"status", "data", "warnings", "infos"}


try:
    om = qd.openmetrics()
    path = os.path.join(tmp, "data.om")
    with open(path, "w") as f:
        f.write(om)
    data_dir = os.path.join(tmp, "data")
    p = subprocess.run([a.vigil, "tsdb", "import", path, "--data-dir", data_dir], capture_output=True, text=True,
                       timeout=120)
    c.check("vigil tsdb import backfills the OpenMetrics file", p.returncode == 0, p.stdout + p.stderr)

    v = vt.Vigil(a.vigil, "host:\n  enabled: false\nstorage:\n  retention: 100y\n",
                 extra_args=["--query.max-samples", "2000"], data_dir=data_dir)
    v.wait_ready()

    # Instant query, GET, time as RFC 3339 with a fraction: the exact text Prometheus writes.
    t = qd.T0 + 3600.5
    want = last_value("demo_load", {"job": "node", "instance": "a"}, t)
    status, ctype, body = request("/api/v1/query", [("query", 'demo_load{instance="a"}'), ("time", rfc3339(t))])
    expect = ('{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"demo_load",'
              f'"instance":"a","job":"node"}},"value":[{qd.T0 + 3600}.500,"{want}"]}}]}}}}')
    c.check("instant query (GET, RFC 3339 time): exact JSON", status == 200 and body == expect,
            f"{status} {body}\nwant {expect}")
    c.check("Content-Type is application/json", ctype == "application/json", ctype)

    # Instant query, POST form as Grafana sends it (time as Unix seconds).
    status, _, _, body = api("/api/v1/query", [("query", "sum by (instance) (rate(demo_http_requests_total[5m]))"),
                                               ("time", str(t))], "POST")
    res = body.get("data", {}).get("result", [])
    c.check("instant query (POST form): vector of {metric, value:[float, string]}",
            status == 200 and is_success_envelope(body) and body["data"]["resultType"] == "vector" and len(res) == 2
            and all(set(r) == {"metric", "value"} and isinstance(r["value"][0], float) and r["value"][0] == t
                    and isinstance(r["value"][1], str) for r in res)
            and sorted(r["metric"]["instance"] for r in res) == ["a", "b"], body)

    # Scalar and string results.
    _, _, raw, body = api("/api/v1/query", [("query", "1 + 1"), ("time", "1700000000")])
    c.check("scalar result is [time, \"2\"]", raw == '{"status":"success","data":{"resultType":"scalar","result":'
            '[1700000000,"2"]}}', raw)

    # Range query, POST form-encoded with Unix seconds (Grafana's default form).
    start, end, step = qd.T0 + 1800, qd.T0 + 3600, 60
    status, _, _, body = api("/api/v1/query_range", [("query", "rate(demo_http_requests_total[5m])"),
                                                     ("start", str(start)), ("end", str(end)), ("step", str(step))],
                             "POST")
    res = body.get("data", {}).get("result", [])
    stamps = [start + k * step for k in range(31)]
    c.check("query_range (POST form): matrix of {metric, values:[[float, string]…]} on the step grid",
            status == 200 and is_success_envelope(body) and body["data"]["resultType"] == "matrix" and len(res) == 4
            and all(set(r) == {"metric", "values"} and "__name__" not in r["metric"]
                    and [p[0] for p in r["values"]] == stamps and all(isinstance(p[1], str) for p in r["values"])
                    for r in res), json.dumps(body)[:500])

    # Range query, GET with RFC 3339 start/end and a duration step.
    status, _, _, body = api("/api/v1/query_range", [("query", 'demo_temp_celsius{room="hall"}'),
                                                     ("start", rfc3339(qd.T0 + 3000.5)),
                                                     ("end", rfc3339(qd.T0 + 4200.5)), ("step", "5m")])
    res = body.get("data", {}).get("result", [])
    # The hall sensor's last sample is at T0+3588.25: no point once it is older than the 5 m lookback.
    c.check("query_range (GET, RFC 3339, step=5m): series stops after its last sample + lookback",
            status == 200 and len(res) == 1 and [p[0] for p in res[0]["values"]] == [qd.T0 + 3000.5, qd.T0 + 3300.5,
                                                                                    qd.T0 + 3600.5],
            json.dumps(body)[:500])

    # series with match[] (GET and POST), start/end both ways.
    for method, (s, e) in (("GET", (str(qd.T0), str(qd.END))), ("POST", (rfc3339(qd.T0), rfc3339(qd.T0 + 7200)))):
        status, _, raw, body = api("/api/v1/series", [("match[]", "demo_load"), ("match[]", 'demo_build_info{instance="a"}'),
                                                      ("start", s), ("end", e)], method)
        expect = [{"__name__": "demo_build_info", "instance": "a", "version": "1.2.0"}] + [
            {"__name__": "demo_load", "instance": i, "job": "node"} for i in ("a", "b", "c")]
        c.check(f"series ({method}, match[] twice): sorted label sets", status == 200 and body == {
            "status": "success", "data": expect}, raw)

    status, _, raw, body = api("/api/v1/labels", [("match[]", "demo_latency_seconds_bucket"),
                                                  ("start", rfc3339(qd.T0)), ("end", str(qd.END))])
    c.check("labels with match[]", body == {"status": "success", "data": ["__name__", "instance", "job", "le"]}, raw)
    status, _, raw, body = api("/api/v1/labels", [("match[]", "demo_temp_celsius")], "POST")
    c.check("labels (POST form)", body == {"status": "success", "data": ["__name__", "room"]}, raw)
    status, _, raw, body = api("/api/v1/label/le/values", [("match[]", 'demo_latency_seconds_bucket{instance="a"}'),
                                                           ("start", str(qd.T0)), ("end", str(qd.END))])
    c.check("label values with match[]", body == {"status": "success", "data": [
        "+Inf", "0.05", "0.1", "0.25", "0.5", "1"]}, raw)
    status, _, raw, body = api("/api/v1/label/__name__/values", [("start", str(qd.T0)), ("end", str(qd.END))])
    c.check("metric names via label/__name__/values", status == 200 and "demo_load" in body["data"]
            and body["data"] == sorted(body["data"]), raw[:300])
    # Outside the data there are no series.
    _, _, raw, body = api("/api/v1/series", [("match[]", "demo_load"), ("start", "1000"), ("end", "2000")])
    c.check("series outside the data's time range: empty list", raw == '{"status":"success","data":[]}', raw)

    status, _, raw, body = api("/api/v1/metadata")
    c.check("metadata: {name: [{type, help, unit}]}", status == 200 and isinstance(body["data"], dict) and all(
        isinstance(l, list) and all(set(m) == {"type", "help", "unit"} for m in l) for l in body["data"].values()),
        raw[:300])
    status, _, raw, body = api("/api/v1/status/buildinfo")
    c.check("buildinfo: Prometheus's fields", status == 200 and set(body["data"]) == {
        "version", "revision", "branch", "buildUser", "buildDate", "goVersion"}, raw)
    status, _, raw, body = api("/api/v1/format_query", [("query", "sum by(job)(rate(demo_http_requests_total[5m]))")])
    c.check("format_query", body == {"status": "success",
                                     "data": "sum by (job) (rate(demo_http_requests_total[5m]))"}, raw)

    # Errors.
    for method in ("GET", "POST"):
        status, _, raw, body = api("/api/v1/query", [("query", "sum(rate(demo_load[5m])")], method)
        c.check(f"malformed query ({method}) -> 400 bad_data with Prometheus's error JSON",
                status == 400 and set(body) == {"status", "errorType", "error"} and body["status"] == "error"
                and body["errorType"] == "bad_data" and body["error"].startswith('invalid parameter "query": 1:')
                and "parse error" in body["error"], f"{status} {raw}")
    status, _, raw, body = api("/api/v1/query_range", [("query", "demo_load"), ("start", "abc"), ("end", "1"),
                                                      ("step", "1")])
    c.check("bad start -> 400 naming the parameter", status == 400 and body["error"] ==
            'invalid parameter "start": cannot parse "abc" to a valid timestamp', raw)
    status, _, raw, body = api("/api/v1/query_range", [("query", "demo_load"), ("start", str(qd.T0)),
                                                      ("end", str(qd.T0 + 86400)), ("step", "1")])
    c.check("more than 11,000 points -> 400", status == 400 and body["error"].startswith(
        "exceeded maximum resolution of 11,000 points per timeseries"), raw)
    status, _, raw, body = api("/api/v1/query_range", [("query", "demo_latency_seconds_bucket"),
                                                      ("start", str(qd.T0)), ("end", str(qd.END)), ("step", "15")])
    c.check("over --query.max-samples -> 422 execution with a clear message",
            status == 422 and body["errorType"] == "execution" and "too many samples" in body["error"], raw)
    status, _, raw = request("/api/v1/no_such_thing")
    c.check("unknown API path -> 404", status == 404, f"{status} {raw}")
    status, _, raw, body = api("/api/v1/series")
    c.check("series without match[] -> 400", status == 400 and body["error"] == "no match[] parameter provided", raw)

    # The CLI.
    def cli(*argv):
        p = subprocess.run([a.vigil, *argv], capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = cli("query", 'demo_load{instance="b"}', "--time", str(t), "--server", v.url)
    want = last_value("demo_load", {"job": "node", "instance": "b"}, t)
    lines = out.splitlines()
    c.check("vigil query prints a table", rc == 0 and lines[0].split() == ["SERIES", "VALUE", "TIMESTAMP"]
            and lines[1].split() == ['demo_load{instance="b",', 'job="node"}', want, rfc3339(t)], out + err)
    rc, out, err = cli("query", 'demo_load{instance="b"}', "--time", str(t), "--server", v.url, "--json")
    c.check("vigil query --json prints the API's data", rc == 0 and json.loads(out) == {
        "resultType": "vector", "result": [{"metric": {"__name__": "demo_load", "instance": "b", "job": "node"},
                                            "value": [t, want]}]}, out + err)
    rc, out, err = cli("query-range", 'demo_load{instance="a"}', "--start", str(qd.T0 + 600.5), "--end",
                       str(qd.T0 + 720.5), "--step", "1m", "--server", v.url)
    lines = out.splitlines()
    c.check("vigil query-range prints the series, then a line per point",
            rc == 0 and lines[0] == 'demo_load{instance="a", job="node"}' and len(lines) == 4
            and lines[1].split()[0] == rfc3339(qd.T0 + 600.5), out + err)
    rc, out, err = cli("query", "sum(", "--server", v.url)
    c.check("vigil query with a parse error: exit 1, errorType and message",
            rc == 1 and "bad_data" in err and 'invalid parameter "query"' in err, out + err)
    dead = f"http://127.0.0.1:{vt.free_port()}"
    rc, out, err = cli("query", "up", "--server", dead)
    c.check("vigil query against nothing: exit 1 naming the address", rc == 1 and dead in err, out + err)

    # A query running longer than --query.timeout: 503 timeout (vigil restarted on the same data).
    v.cleanup()
    v = vt.Vigil(a.vigil, "host:\n  enabled: false\nstorage:\n  retention: 100y\n",
                 extra_args=["--query.timeout", "1ms"], data_dir=data_dir)
    v.wait_ready()
    status, _, raw, body = api("/api/v1/query_range", [
        ("query", "quantile_over_time(0.5, demo_latency_seconds_bucket[1h])"), ("start", str(qd.T0)),
        ("end", str(qd.END)), ("step", "1")], "POST")
    c.check("over --query.timeout -> 503 timeout", status == 503 and body == {
        "status": "error", "errorType": "timeout", "error": "query timed out in query execution"}, f"{status} {raw}")
finally:
    if v:
        v.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)

c.finish()
