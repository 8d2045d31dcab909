"""Stored series carry `job` and `instance` as a Prometheus scrape would add
them (issue 19): host metrics under `node`, vigil's own under `vigil`, both
configurable, `instance` from global.instance (default: the host name), an
`up` per job; /metrics stays without them; dashboards' variable queries
(label values, series) list the jobs and instances."""
import json
import socket
import urllib.parse

import vigiltest as vt

a = vt.args()
c = vt.Checks()


def api(v, path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    return json.loads(vt.get(f"{v.url}{path}?{q}")[2])["data"]


def first(v, expr):
    res = api(v, "/api/v1/query", query=expr)["result"]
    return res[0] if res else None


v = vt.Vigil(a.vigil, "global:\n  scrape_interval: 1s\nhost:\n  interval: 1s\n")
with vt.running(lambda: v):
    v.wait_ready()
    host = socket.gethostname()
    vt.wait_until(lambda: first(v, 'up{job="node"}') and first(v, 'up{job="vigil"}'), timeout=10, what="up stored")
    load = first(v, "node_load1")
    c.check("host series: job=node, instance=host name",
            load and load["metric"].get("job") == "node" and load["metric"].get("instance") == host, load)
    up = first(v, 'up{job="node"}')
    c.check("up{job=node,instance} = 1", up and up["metric"] == {"__name__": "up", "job": "node", "instance": host}
            and up["value"][1] == "1", up)
    own = first(v, 'vigil_collector_runs_total{collector="host"}')
    c.check("vigil's own series: job=vigil", own and own["metric"].get("job") == "vigil", own)
    jobs = sorted(r["metric"]["job"] for r in api(v, "/api/v1/query", query="process_open_fds")["result"])
    c.check("the exporter process's process_* under both jobs", jobs == ["node", "vigil"], jobs)
    # What Grafana's variables ask: label_values(node_uname_info, job) and the instances of a job.
    c.check("label values of job", api(v, "/api/v1/label/job/values") == ["node", "vigil"],
            api(v, "/api/v1/label/job/values"))
    series = api(v, "/api/v1/series", **{"match[]": 'node_uname_info{job="node"}'})
    c.check("series of node_uname_info{job=node} name the instance",
            [s.get("instance") for s in series] == [host], series)
    fams = vt.parse_exposition(v.metrics())
    c.check("/metrics keeps its series without target labels",
            all("job" not in dict(k) for k in fams["node_load1"]["samples"]), fams["node_load1"]["samples"])

v = vt.Vigil(a.vigil, "global:\n  scrape_interval: 1s\n  instance: validator-1:9100\n  job: agent\n"
             "host:\n  interval: 1s\n  job: node-exporter\n")
with vt.running(lambda: v):
    v.wait_ready()
    vt.wait_until(lambda: first(v, 'up{job="node-exporter"}'), timeout=10, what="renamed job stored")
    load = first(v, "node_load1")
    c.check("configured host job and instance",
            load and load["metric"].get("job") == "node-exporter" and load["metric"].get("instance") == "validator-1:9100",
            load)
    c.check("configured own job", first(v, 'process_open_fds{job="agent", instance="validator-1:9100"}') is not None)

c.finish()
