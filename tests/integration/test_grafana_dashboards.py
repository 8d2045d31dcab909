#!/usr/bin/env python3
"""The Grafana dashboards in deploy/grafana (Grafana itself cannot be
installed here):

- each dashboard's JSON is checked as Grafana would load it: valid JSON,
  unique uid and title, unique panel ids (rows' nested panels included),
  every panel and target on the `${datasource}` variable, every target with
  an expr, every `$variable` an expr uses defined;
- then a vigil holding test data (bitcoind, titan and the validator emulated
  by tests/emulators and run as units of a private `systemd --user`, a
  validator log, host metrics, the host rules, a webhook receiver and one
  recovery restart) answers every panel's query, with the template variables
  resolved as Grafana does, as an instant query and as a short range query:
  each must succeed and return at least one series.

  test_grafana_dashboards.py --vigil PATH --source-dir DIR
"""
import glob
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import vigiltest as vt  # noqa: E402

a = vt.args()
c = vt.Checks()
SOURCE = os.path.abspath(a.source_dir)
DASHBOARDS = sorted(glob.glob(os.path.join(SOURCE, "deploy", "grafana", "dashboards", "*.json")))
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's own variables, with values fit for a few minutes of 1 s data.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600"}
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")

# --- structure -------------------------------------------------------------
c.check("deploy/grafana/dashboards holds the three dashboards", len(DASHBOARDS) == 3,
        [os.path.basename(p) for p in DASHBOARDS])
dashboards, uids, titles = {}, {}, {}
for path in DASHBOARDS:
    name = os.path.relpath(path, SOURCE)
    try:
        with open(path) as f:
            d = json.load(f)
    except ValueError as e:
        c.check(f"{name}: valid JSON", False, str(e))
        continue
    dashboards[name] = d
    uids.setdefault(d.get("uid"), []).append(name)
    titles.setdefault(d.get("title"), []).append(name)
    c.check(f"{name}: schemaVersion 36..41", 36 <= d.get("schemaVersion", 0) <= 41, d.get("schemaVersion"))

    ids, problems = {}, []

    def walk(panels, where):
        for p in panels:
            pid = p.get("id")
            ids.setdefault(pid, []).append(p.get("title"))
            g = p.get("gridPos") or {}
            if not (isinstance(pid, int) and g.get("w", 0) > 0 and g.get("x", -1) >= 0 and g["x"] + g["w"] <= 24):
                problems.append(f"{where}panel {pid} {p.get('title')!r}: needs an integer id and a gridPos within 24 columns")
            if p.get("type") != "row":
                if p.get("datasource") != DATASOURCE:
                    problems.append(f"{where}panel {pid} {p.get('title')!r}: datasource {p.get('datasource')} "
                                    f"is not the ${{datasource}} variable")
                targets = p.get("targets") or []
                if not targets:
                    problems.append(f"{where}panel {pid} {p.get('title')!r}: no targets")
                refs = [t.get("refId") for t in targets]
                if len(set(refs)) != len(refs):
                    problems.append(f"{where}panel {pid} {p.get('title')!r}: refIds repeat: {refs}")
                for t in targets:
                    if t.get("datasource") != DATASOURCE:
                        problems.append(f"{where}panel {pid} {p.get('title')!r} target {t.get('refId')}: datasource "
                                        f"{t.get('datasource')} is not the ${{datasource}} variable")
                    if not (t.get("expr") or "").strip():
                        problems.append(f"{where}panel {pid} {p.get('title')!r} target {t.get('refId')}: no expr")
            walk(p.get("panels") or [], f"row {pid} > ")
    walk(d.get("panels") or [], "")
    dupes = {pid: t for pid, t in ids.items() if len(t) > 1}
    c.check(f"{name}: panel ids unique, rows' nested panels included", not dupes, dupes)
    c.check(f"{name}: every panel and target on the datasource variable, every target with an expr",
            not problems, "\n  " + "\n  ".join(problems[:20]))

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource") or {}
    c.check(f"{name}: a `datasource` variable of type datasource for Prometheus",
            ds.get("type") == "datasource" and ds.get("query") == "prometheus", ds)
    c.check(f"{name}: a `host` variable from label_values(vigil_build_info, instance)",
            (variables.get("host") or {}).get("query") == "label_values(vigil_build_info, instance)",
            variables.get("host"))
    used = {m.group(1) or m.group(2) for _, t in vt.dashboard_targets(d) for m in VAR_RE.finditer(t.get("expr", ""))}
    for v in variables.values():
        q = v.get("query")
        used |= {m.group(1) or m.group(2) for m in VAR_RE.finditer(q if isinstance(q, str) else "")}
    undefined = sorted(used - set(variables) - set(BUILTINS))
    c.check(f"{name}: every $variable used is defined", not undefined, undefined)
# Provisioning: the data source the dashboards default to, and a file provider.
# (The tests use only the stdlib, so the two small YAML files are read by key.)
def yaml_keys(path):
    return dict(re.findall(r"^[ \t]*-?[ \t]*(\w+):[ \t]*([^\s#]+)", open(path).read(), re.M))


ds_file = yaml_keys(os.path.join(SOURCE, "deploy", "grafana", "provisioning", "datasources", "vigil.yml"))
c.check("provisioning/datasources/vigil.yml: a Prometheus data source uid vigil at vigil's default listen address",
        ds_file.get("type") == "prometheus" and ds_file.get("uid") == "vigil" and
        ds_file.get("url") == "http://127.0.0.1:9810", ds_file)
for name, d in dashboards.items():
    current = next((v.get("current", {}).get("value") for v in d["templating"]["list"] if v["name"] == "datasource"), None)
    c.check(f"{name}: the datasource variable defaults to the provisioned uid", current == ds_file.get("uid"), current)
provider = yaml_keys(os.path.join(SOURCE, "deploy", "grafana", "provisioning", "dashboards", "vigil.yml"))
c.check("provisioning/dashboards/vigil.yml: a file provider with a path", provider.get("type") == "file" and
        provider.get("path", "").startswith("/"), provider)

for what, seen in (("uid", uids), ("title", titles)):
    dupes = {k: v for k, v in seen.items() if len(v) > 1 or not k}
    c.check(f"dashboard {what}s are set and unique", not dupes, dupes)

# --- a vigil holding test data --------------------------------------------
work = tempfile.mkdtemp(prefix="vigil-grafana.")
emulators = os.path.join(SOURCE, "tests", "emulators")
ports = {name: vt.free_port() for name in ("bitcoind", "titan", "validator")}
validator_log = os.path.join(work, "validator.log")
open(validator_log, "w").close()


def unit(name, *args):
    return (f"[Service]\nExecStart={sys.executable} {emulators}/{name}.py --port {ports[name]} {' '.join(args)}\n"
            "Restart=no\n")


sd = vt.user_systemd_or_skip({
    "vg-bitcoind.service": unit("bitcoind", "--user", "vigil", "--password", "secret"),
    "vg-titan.service": unit("titan"),
    "vg-validator.service": unit("validator"),
}, work)
reference = hooks = v = None


def cleanup():
    for e in (reference, hooks):
        if e is not None:
            e.stop()
    sd.cleanup()
    shutil.rmtree(work, ignore_errors=True)


FAST = "backoff: 1s, max_backoff: 2s, verify_timeout: 8s, stable_for: 1s, unhealthy_for: 1s"
with vt.running(lambda: v, cleanup):
    for name in ports:
        sd.systemctl("start", f"vg-{name}.service")
    reference = vt.Emulator(SOURCE, "validator")
    reference.scenario("ok", height=1003)
    hooks = vt.Emulator(SOURCE, "webhooks")
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{interval: 1s}}
systemd: {{bus: user}}
rule_files: [builtin:host, builtin:validator, builtin:liveness-and-saturation]
alerting:
  route: {{receiver: hook, group_wait: 0s, group_interval: 1s}}
  receivers:
    - {{name: hook, webhook_configs: [{{url: '{hooks.url}/alertmanager'}}]}}
recovery: {{mode: enforce}}
services:
  bitcoind:
    unit: vg-bitcoind.service
    bitcoind: {{url: 'http://127.0.0.1:{ports["bitcoind"]}/', user: vigil, password: secret, interval: 1s}}
    processes: {{match: 'emulators/bitcoind\\.py --port {ports["bitcoind"]}', expect: 1}}
  titan:
    unit: vg-titan.service
    depends_on: [bitcoind]
    titan: {{url: 'http://127.0.0.1:{ports["titan"]}', interval: 1s}}
    probes:
      - {{name: tip, type: http, url: 'http://127.0.0.1:{ports["titan"]}/status', interval: 1s}}
    processes: {{match: 'emulators/titan\\.py --port {ports["titan"]}', expect: 1}}
    recovery: {{restart: {{{FAST}}}}}
  validator:
    unit: vg-validator.service
    depends_on: [titan]
    validator: {{url: 'http://127.0.0.1:{ports["validator"]}/', references: ['{reference.url}/'], interval: 1s}}
    probes:
      - {{name: rpc, type: jsonrpc, url: 'http://127.0.0.1:{ports["validator"]}/', method: is_node_ready,
          extract: {{ready: ''}}, interval: 1s}}
    processes: {{match: 'emulators/validator\\.py --port {ports["validator"]}', expect: 1}}
    logs:
      - path: '{validator_log}'
        interval: 1s
        counters: [{{name: errors, match: 'ERROR'}}, {{name: warnings, match: 'WARN'}}]
        gauges: [{{name: slot, match: 'Processing slot (\\d+)'}}]
        states: [{{name: titan_connected, on: 'Connected to server at titan', off: 'Detected disconnection'}}]
"""
    v = vt.Vigil(a.vigil, config)
    v.wait_ready(timeout=30)

    slot = [100]

    def write_log(*lines):
        with open(validator_log, "a") as f:
            f.writelines(line + "\n" for line in lines)

    def log_some(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            slot[0] += 1
            write_log(f"INFO Processing slot {slot[0]}", "ERROR a failed vote", "WARN slow peer")
            time.sleep(1)

    write_log("INFO Connected to server at titan")
    log_some(10)
    # One recovery: titan's main process is killed (Restart=no), vigil restarts and verifies it.
    pid = int(sd.systemctl("show", "vg-titan.service", "-p", "MainPID", "--value"))
    os.kill(pid, signal.SIGKILL)
    vt.wait_until(lambda: 'vigil_recovery_last_mttr_seconds{service="titan"}' in v.metrics(), timeout=30,
                  interval=0.5, what="titan restarted by vigil and verified")
    log_some(25)  # a few collection rounds after the recovery, for every rate window
    t = time.time() - 1

    # Variables, resolved as Grafana does (the first value of each; "All" of a multi-value one).
    host_values = vt.label_values(v.url, "label_values(vigil_build_info, instance)", t)
    c.check("$host: label_values(vigil_build_info, instance) lists this host", host_values == [socket.gethostname()],
            host_values)
    values = dict(BUILTINS, host=(host_values or [""])[0])
    service_values = vt.label_values(v.url, f'label_values(vigil_service_up{{instance="{values["host"]}"}}, service)', t)
    c.check("$service: the three configured services", service_values == ["bitcoind", "titan", "validator"],
            service_values)
    values["service"] = "|".join(service_values)  # what "All" substitutes into service=~"$service"

    def resolve(expr):
        return VAR_RE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), expr)

    total, failures = 0, []
    for name, d in dashboards.items():
        for panel, target in vt.dashboard_targets(d):
            expr = resolve(target.get("expr", ""))
            where = f"{name}: panel {panel['id']} {panel.get('title')!r} target {target.get('refId')}: {expr}"
            total += 1
            try:
                if not vt.has_data(v.url, expr, t):
                    failures.append(f"{where}: the instant query returned no series")
                    continue
                r = vt.api(v.url, "/api/v1/query_range", query=expr, start=f"{t - 60:.3f}", end=f"{t:.3f}", step="5")
                if not r["result"]:
                    failures.append(f"{where}: the range query over the last minute returned no series")
            except Exception as e:  # an error answer names its reason
                failures.append(f"{where}: {str(e)[:300]}")
    print(f"{total} panel queries run")
    c.check(f"every panel query of the {len(dashboards)} dashboards answers with at least one series",
            total > 100 and not failures, f"({len(failures)} of {total})\n  " + "\n  ".join(failures))

c.finish()
