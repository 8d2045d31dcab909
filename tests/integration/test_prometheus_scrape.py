"""A real Prometheus (Debian's package) scrapes vigil: the target goes up,
rate(node_cpu_seconds_total[1m]) returns series, and promtool's linter finds
nothing beyond the camelCase names node_exporter itself uses."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse

import vigiltest as vt

a = vt.args()
prometheus = vt.need("prometheus")
promtool = vt.need("promtool")
c = vt.Checks()

v = vt.Vigil(a.vigil, "host:\n  interval: 1s\n")
tmp = tempfile.mkdtemp(prefix="vigil-prom.")
prom = None
try:
    v.wait_ready()

    # promtool lints the text format; the OpenMetrics output is proven below by
    # Prometheus itself, which asks for OpenMetrics first when it scrapes.
    for name, accept in (("text 0.0.4", None),):
        body = v.metrics(accept)
        lint = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30)
        problems = [l for l in (lint.stdout + lint.stderr).splitlines() if l.strip()]
        # node_exporter's own names: camelCase meminfo/netstat fields, and entropy counted in bits.
        unexpected = [p for p in problems
                      if not (p.endswith("metric names should be written in 'snake_case' not 'camelCase'")
                              and p.startswith(("node_memory_", "node_netstat_")))
                      and not p.startswith(("node_entropy_available_bits use base unit",
                                            "node_entropy_pool_size_bits use base unit"))]
        c.check(f"promtool check metrics ({name}): no problems beyond node_exporter's own names "
                f"({len(problems)} camelCase notes)", not unexpected, "\n".join(unexpected[:20]))

    port = vt.free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: ['127.0.0.1:{v.port}']
""")
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    prom = subprocess.Popen([prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def target_up():
        data = json.loads(vt.get(api + "/targets")[2])["data"]["activeTargets"]
        return data and data[0]["health"] == "up" and data[0]
    target = vt.wait_until(target_up, timeout=30, interval=0.25, what="Prometheus target up")
    c.check("Prometheus target is up", target["health"] == "up", json.dumps(target))
    c.check("no scrape error", target.get("lastError", "") == "", target.get("lastError"))

    def query(expr):
        body = json.loads(vt.get(api + "/query?" + urllib.parse.urlencode({"query": expr}))[2])
        return body["data"]["result"]
    result = vt.wait_until(lambda: query("rate(node_cpu_seconds_total[1m])"), timeout=30, interval=0.5,
                           what="rate(node_cpu_seconds_total[1m]) to return series")
    c.check(f"rate(node_cpu_seconds_total[1m]) returns {len(result)} series",
            len(result) >= 8 and all("mode" in r["metric"] and "cpu" in r["metric"] for r in result))
    mem = query("node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes")
    c.check("memory ratio query works", len(mem) == 1 and 0 < float(mem[0]["value"][1]) <= 1, mem)
    fs = query('node_filesystem_avail_bytes{mountpoint="/"}')
    c.check("root filesystem present", len(fs) == 1, fs)
    up = query('vigil_collector_up{collector="host"}')
    c.check("vigil's own health is queryable", len(up) == 1 and up[0]["value"][1] == "1", up)
finally:
    vt.stop_process(prom)
    v.cleanup()
    shutil.rmtree(tmp, ignore_errors=True)

c.finish()
