"""A fleet as docs/fleet.md builds it: three vigils (separate data dirs and
ports, distinct `instance` and `host` labels, each watching its own validator)
remote-write to one real VictoriaMetrics; fleet-wide queries there return all
three hosts, and the validator-stack dashboard's lag panel, with its $host
variable, returns each host's series."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import vigiltest as vt

a = vt.args()
victoria = vt.need("victoria-metrics")
c = vt.Checks()
tmp = tempfile.mkdtemp(prefix="vigil-fleet.")
vm = None
emulators, vigils = [], []


def vm_query(base, q):
    status, _, body = vt.get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q}), timeout=30)
    assert status == 200, (q, status, body[:300])
    return json.loads(body)["data"]["result"]


try:
    port = vt.free_port()
    vm = subprocess.Popen([victoria, f"-storageDataPath={tmp}/vm", f"-httpListenAddr=127.0.0.1:{port}",
                           "-retentionPeriod=100y", "-search.latencyOffset=0s"],
                          stdout=open(os.path.join(tmp, "vm.log"), "w"), stderr=subprocess.STDOUT)
    vm_url = f"http://127.0.0.1:{port}"
    vt.wait_until(lambda: vt.get(vm_url + "/health")[0] == 200, timeout=30, what="VictoriaMetrics up")
    reference = vt.Emulator(a.source_dir, "validator")
    emulators.append(reference)
    hosts = ["validator-a", "validator-b", "validator-c"]
    for h in hosts:
        validator = vt.Emulator(a.source_dir, "validator")
        emulators.append(validator)
        # The shape of deploy/fleet/vigil.yml, with loopback peers.
        vigils.append(vt.Vigil(a.vigil, f"""global:
  instance: {h}
  external_labels: {{host: {h}}}
host: {{interval: 1s}}
services:
  validator:
    validator: {{url: '{validator.url}/', references: ['{reference.url}/'], interval: 1s, timeout: 800ms}}
remote_write:
  - name: fleet
    url: {vm_url}/api/v1/write
    queue_config: {{batch_send_deadline: 500ms}}
"""))
    for v in vigils:
        v.wait_ready(timeout=30)

    def all_hosts(q):
        vt.get(vm_url + "/internal/force_flush")
        got = {r["metric"].get("host") for r in vm_query(vm_url, q)}
        return got if got == set(hosts) else None

    got = vt.wait_until(lambda: all_hosts("count by (host) (up)"), timeout=60, interval=0.5,
                        what="count by (host) (up) in VictoriaMetrics returns all three hosts")
    c.check(f"count by (host) (up) returns all three hosts: {sorted(got)}", got == set(hosts))
    got = vt.wait_until(lambda: all_hosts("max by (host) (vigil_validator_height_lag_blocks)"), timeout=60,
                        interval=0.5, what="validator lag from all three hosts")
    c.check("max by (host) (vigil_validator_height_lag_blocks) returns all three hosts", got == set(hosts))

    # The dashboard's own panel and $host variable, against the central store.
    with open(os.path.join(a.source_dir, "deploy/grafana/dashboards/validator-stack.json")) as f:
        dash = json.load(f)
    host_var = next(v for v in dash["templating"]["list"] if v["name"] == "host")
    metric_and_label = host_var["query"][len("label_values("):-1].split(", ")
    status, _, body = vt.get(vm_url + "/api/v1/label/" + metric_and_label[1] + "/values?" +
                             urllib.parse.urlencode({"match[]": metric_and_label[0]}))
    values = set(json.loads(body)["data"])
    c.check(f"the dashboards' $host variable ({host_var['query']}) lists the three hosts: {sorted(values)}",
            values == set(hosts), body[:300])
    lag = next(t["expr"] for p in dash["panels"] for t in p.get("targets", [])
               if "vigil_validator_height_lag_blocks" in t.get("expr", ""))
    per_host = {}
    for h in hosts:
        expr = lag.replace("$host", h).replace('=~"$service"', '=~".*"')
        per_host[h] = len(vm_query(vm_url, expr))
    c.check(f"the validator lag panel ({lag}) has series for each host: {per_host}",
            all(n > 0 for n in per_host.values()), str(per_host))
finally:
    for v in vigils:
        v.cleanup()
    for e in emulators:
        e.stop()
    vt.stop_process(vm)
    shutil.rmtree(tmp, ignore_errors=True)
c.finish()
