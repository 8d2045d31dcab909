"""Issue 19's acceptance: a public node_exporter dashboard (Grafana "Node
Exporter Full") and a public alert pack (awesome-prometheus-alerts' node
exporter rules), copied in tests/testdata/public (SOURCE.md names source,
path and commit), run against vigil and against node_exporter 1.5 scraped by
Prometheus 2.42 on the same host at the same moment.

- the dashboard's variables, resolved as Grafana does (label values of
  node_uname_info through /api/v1/label/<name>/values with match[]), list
  the same jobs, node names and instances;
- every dashboard query with data through node_exporter + Prometheus has data
  through vigil (the counts are printed);
- `vigil check rules` passes on the alert pack unchanged; `vigil run` loads
  it, every rule evaluates without error, and every rule whose metrics exist
  through Prometheus has them through vigil.

Set VIGIL_PACKS_REPORT=FILE to write the per-query results as JSON."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import vigiltest as vt

a = vt.args()
node_exporter = vt.need("prometheus-node-exporter")
prometheus = vt.need("prometheus")
c = vt.Checks()

DATA = os.path.join(os.path.abspath(a.source_dir), "tests", "testdata", "public")
DASHBOARD = os.path.join(DATA, "node-exporter-full.json")
RULES = os.path.join(DATA, "awesome-prometheus-alerts-node-exporter.yml")
WARMUP_S = 45  # enough 1 s samples for every [$__rate_interval] window and the rules' short `for`s
RATE_INTERVAL = "30s"

# Debian's node_exporter excludes lo (netdev) and /run, /mnt, /media mounts; vigil gets the same.
HOST = socket.gethostname()
ne_port, prom_port = vt.free_port(), vt.free_port()
INSTANCE = f"{HOST}:{ne_port}"  # Prometheus's target; vigil's global.instance says the same
VIGIL_CONFIG = f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
  instance: '{INSTANCE}'
host:
  interval: 1s
  filesystems:
    exclude_mountpoints: '^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)'
  network:
    exclude: '^lo$'
rule_files: ['{RULES}']
"""


def dashboard_queries():
    d = json.load(open(DASHBOARD))
    out = [(p.get("title", ""), t["expr"]) for p, t in vt.dashboard_targets(d) if t.get("expr")]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    return out, variables


api, label_values, has_data = vt.api, vt.label_values, vt.has_data


tmp = tempfile.mkdtemp(prefix="vigil-packs.")
ne_log = open(os.path.join(tmp, "node_exporter.log"), "w")
prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
    f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ['127.0.0.1:{ne_port}'], labels: {{instance: '{INSTANCE}'}}}}]
""")
procs = []
v = None


def stop_peers():
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    ne_log.close()
    prom_log.close()
    shutil.rmtree(tmp, ignore_errors=True)


with vt.running(lambda: v, stop_peers):
    # The alert pack, unchanged, as promtool and vigil check it.
    r = subprocess.run([a.vigil, "check", "rules", RULES], capture_output=True, text=True, timeout=60)
    c.check("vigil check rules passes on the public alert pack", r.returncode == 0 and "SUCCESS: 35 rules" in r.stdout,
            r.stdout[-2000:] + r.stderr)
    c.check("... without a warning (every severity it uses is in the default map)", "WARNING" not in r.stdout,
            r.stdout[-2000:])

    procs.append(subprocess.Popen([node_exporter, f"--web.listen-address=127.0.0.1:{ne_port}"], stdout=ne_log,
                                  stderr=subprocess.STDOUT))
    procs.append(subprocess.Popen([prometheus, f"--config.file={tmp}/prometheus.yml",
                                   f"--storage.tsdb.path={tmp}/prom-data",
                                   f"--web.listen-address=127.0.0.1:{prom_port}"],
                                  stdout=prom_log, stderr=subprocess.STDOUT))
    v = vt.Vigil(a.vigil, VIGIL_CONFIG)
    v.wait_ready()
    prom = f"http://127.0.0.1:{prom_port}"
    vt.wait_until(lambda: any(t["health"] == "up" for t in api(prom, "/api/v1/targets")["activeTargets"]),
                  timeout=30, what="Prometheus scraping node_exporter")
    time.sleep(WARMUP_S)
    t = time.time() - 2

    queries, variables = dashboard_queries()
    # Variables, as Grafana resolves them, in order (each may use the ones before).
    values = {}
    for name in ("job", "nodename", "node"):
        q = variables[name]["query"]
        q = q["query"] if isinstance(q, dict) else q
        for k, val in values.items():
            q = q.replace(f"${k}", val)
        theirs, mine = label_values(prom, q, t), label_values(v.url, q, t)
        c.check(f"variable {name}: {q} -> {mine} (Prometheus: {theirs})", mine == theirs and mine, (mine, theirs))
        values[name] = (theirs or mine or [""])[0]

    def resolve(expr):
        expr = expr.replace("$__rate_interval", RATE_INTERVAL).replace("${__rate_interval}", RATE_INTERVAL)
        for k, val in values.items():
            expr = expr.replace("${" + k + "}", val).replace("$" + k, val)
        return expr

    report, with_data, gaps, errors = [], 0, [], []
    for title, expr in queries:
        q = resolve(expr)
        try:
            theirs = has_data(prom, q, t)
        except Exception as e:  # a query Prometheus itself rejects is not a vigil gap
            report.append({"panel": title, "expr": q, "prometheus": f"error: {e}"})
            continue
        try:
            mine = has_data(v.url, q, t)
        except Exception as e:
            mine = False
            errors.append((title, q, str(e)[:200]))
        report.append({"panel": title, "expr": q, "prometheus": theirs, "vigil": mine})
        if theirs:
            with_data += 1
            if not mine:
                gaps.append((title, q))
    print(f"dashboard: {len(queries)} queries, {with_data} with data through node_exporter + Prometheus, "
          f"{with_data - len(gaps)} of them with data through vigil")
    c.check(f"every one of the {with_data} dashboard queries with data through Prometheus has data through vigil",
            with_data > 100 and not gaps, gaps[:20])
    c.check("no dashboard query errors in vigil", not errors, errors[:10])

    # The alert pack in `vigil run`: loaded, evaluated, and fed.
    groups = api(v.url, "/api/v1/rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    c.check(f"vigil run loaded the pack's {len(rules)} rules", len(rules) == 35, len(rules))
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
    c.check("every rule evaluates without error", not unhealthy, unhealthy[:10])
    fed_prom, rule_gaps = 0, []
    for r in rules:
        names = sorted(set(re.findall(r"\b(node_[a-zA-Z0-9_]+)", r["query"])))
        if not names:
            continue
        if all(has_data(prom, n, t) for n in names):
            fed_prom += 1
            missing = [n for n in names if not has_data(v.url, n, t)]
            if missing:
                rule_gaps.append((r["name"], missing))
    print(f"alert pack: {len(rules)} rules, {fed_prom} whose metrics exist through Prometheus, "
          f"{fed_prom - len(rule_gaps)} of them fed through vigil")
    c.check(f"every one of the {fed_prom} rules whose metrics exist through Prometheus is fed through vigil",
            fed_prom > 10 and not rule_gaps, rule_gaps)

    if os.environ.get("VIGIL_PACKS_REPORT"):
        with open(os.environ["VIGIL_PACKS_REPORT"], "w") as f:
            json.dump({"variables": values, "queries": report, "rule_gaps": rule_gaps}, f, indent=1)

c.finish()
