"""vigil's relabel engine against real Prometheus 2.42: one scrape job per
case applies the case's rules as metric_relabel_configs to the same served
exposition, and the series Prometheus stores must be exactly the label sets
tests/tools/relabel_tool prints for the same YAML. Every series carries its
own job and instance and the jobs use honor_labels, so neither side sees a
label the other does not; a last rule that Prometheus alone runs adds
vigil_case=<case> to tell the jobs apart, and is removed before comparing.
Rule lists Prometheus refuses (promtool check config) must be refused by
vigil's parser too."""
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
prom_bin = vt.need("prometheus")
promtool = vt.need("promtool")
tool = os.environ.get("VIGIL_RELABEL_TOOL") or os.path.join(os.path.dirname(os.path.abspath(a.vigil)),
                                                             "tests", "relabel_tool")
if not os.path.exists(tool):
    raise SystemExit(f"FAIL: relabel_tool not found at {tool} (build the relabel_tool target or set VIGIL_RELABEL_TOOL)")

EXPOSITION = r'''# TYPE http_requests_total counter
http_requests_total{job="api",instance="web-1:9100",method="GET",code="200",path="/api/v1/query"} 10
http_requests_total{job="api",instance="web-1:9100",method="POST",code="500",path="/api/v1/write"} 3
http_requests_total{job="api",instance="web-2:9100",method="GET",code="404",path="/Index.HTML"} 1
http_requests_total{job="api",instance="web-2:9100",method="delete",code="204",path="/api/v1/admin"} 2
http_requests_total{job="web",instance="web-3:80",method="GET",code="301",path="/"} 7
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{job="node",instance="host-a:9100",device="/dev/sda1",mountpoint="/",fstype="ext4"} 1e9
node_filesystem_avail_bytes{job="node",instance="host-a:9100",device="overlay",mountpoint="/var/lib/docker/overlay2/abc/merged",fstype="overlay"} 5e8
node_filesystem_avail_bytes{job="node",instance="host-b:9100",device="/dev/nvme0n1p2",mountpoint="/data",fstype="xfs"} 2e12
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{job="node",instance="host-a:9100",device="eth0"} 100
node_network_receive_bytes_total{job="node",instance="host-a:9100",device="lo"} 5
node_network_receive_bytes_total{job="node",instance="host-a:9100",device="veth1a2b"} 9
node_network_receive_bytes_total{job="node",instance="host-b:9100",device="ens3"} 77
# TYPE validator_block_height gauge
validator_block_height{job="validator",instance="10.0.0.7:26660",chain="mainnet",role="Validator",node="Node-EU-1",region="eu-west"} 123456
validator_block_height{job="validator",instance="10.0.0.8:26660",chain="testnet",role="Sentry",node="node-us-2",region="us-east"} 654321
validator_missed_blocks_total{job="validator",instance="10.0.0.7:26660",chain="mainnet",node="Node-EU-1"} 4
# TYPE net_link_up gauge
net_link_up{job="mesh",instance="a:1",src_host="alpha",dst_host="alpha"} 1
net_link_up{job="mesh",instance="a:1",src_host="alpha",dst_host="beta"} 1
net_link_up{job="mesh",instance="b:1",src_host="beta",dst_host="gamma"} 0
net_link_up{job="mesh",instance="b:1",src_host="beta",dst_host="beta"} 1
app_info{job="app",instance="i1:8080",owner="\u00c4rger \u03a9mega",version="v1.2.3-rc.1",team="Core_Infra"} 1
app_info{job="app",instance="i2:8080",owner="stra\u00dfe \u0130stanbul",version="v2.0.0",team="core-infra"} 1
app_message{job="app",instance="i1:8080",msg="say \"hi\" \\ back",tmp_shard="3",tmp_zone="b"} 1
app_message{job="app",instance="i2:8080",msg="line one\nline two",tmp_shard="7"} 2
process_cpu_seconds_total{job="vigil",instance="localhost:9810"} 12.5
process_resident_memory_bytes{job="vigil",instance="localhost:9810"} 4.2e7
scrape_thing_total{job="x",instance="y:1",a="1",b="2",c="3",d="4",e="5"} 1
scrape_thing_total{job="x",instance="y:2",a="10",b="20",c="30",d="40",e="50"} 1
scrape_thing_total{job="x",instance="y:3",a="",b="bb",c="a;b",d="cost$1",e="${1}"} 1
'''
# Python's r-string keeps \u escapes literal; the exposition wants real characters.
EXPOSITION = EXPOSITION.replace(r"\u00c4", "\u00c4").replace(r"\u03a9", "\u03a9").replace(
    r"\u00df", "\u00df").replace(r"\u0130", "\u0130")

CASES = {
    "replace_host_from_instance": [
        {"source_labels": ["instance"], "regex": "([^:]+):\\d+", "target_label": "host", "replacement": "$1"}],
    "replace_named_group_in_target": [
        {"source_labels": ["method"], "regex": "(?P<m>[A-Za-z]+)", "target_label": "verb_${m}", "replacement": "yes"}],
    "replace_dollar_1x_is_group_named_1x": [
        {"source_labels": ["code"], "regex": "(\\d)(\\d+)", "target_label": "class_a", "replacement": "$1xx"},
        {"source_labels": ["code"], "regex": "(\\d)(\\d+)", "target_label": "class_b", "replacement": "${1}xx"},
        {"source_labels": ["code"], "regex": "(\\d)(\\d+)", "target_label": "class_c", "replacement": "$2-$1-$9-$$1"}],
    "replace_no_match_no_change": [
        {"source_labels": ["job"], "regex": "nomatch", "target_label": "job", "replacement": "changed"}],
    "replace_separator_and_default_replacement": [
        {"source_labels": ["job", "instance"], "separator": "/", "target_label": "jobinst"}],
    "replace_empty_result_deletes_target": [
        {"source_labels": ["path"], "regex": "/api/.*", "target_label": "path", "replacement": ""}],
    "replace_invalid_expanded_target_no_change": [
        {"source_labels": ["path"], "regex": "/(.*)", "target_label": "$1", "replacement": "x"},
        {"source_labels": ["device"], "regex": "(.*)", "target_label": "dev_${1}", "replacement": "seen"}],
    "replace_static_and_metric_name": [
        {"target_label": "env", "replacement": "prod"},
        {"source_labels": ["__name__"], "regex": "(.*)_total", "target_label": "__name__", "replacement": "${1}_count"}],
    "replace_literal_dollars_and_special_values": [
        {"source_labels": ["d", "e", "msg"], "separator": "|", "target_label": "joined"},
        {"source_labels": ["msg"], "regex": "say (.*)", "target_label": "said", "replacement": "[$1]"}],
    "keep_by_name": [
        {"source_labels": ["__name__"], "regex": "http_.*|node_network_.*", "action": "keep"}],
    "keep_two_sources": [
        {"source_labels": ["job", "code"], "regex": "api;(2|4).*", "action": "keep"}],
    "keep_empty_regex_keeps_absent": [
        {"source_labels": ["device"], "regex": "", "action": "keep"}],
    "drop_devices_anchored": [
        {"source_labels": ["device"], "regex": "lo|veth.*|eth", "action": "drop"}],
    "drop_case_insensitive_action_name": [
        {"source_labels": ["method"], "regex": "(?i)get", "action": "DROP"},
        {"source_labels": ["role"], "regex": "Sentry|", "action": "Keep"}],
    "keepequal": [
        {"source_labels": ["src_host"], "target_label": "dst_host", "action": "keepequal"}],
    "dropequal": [
        {"source_labels": ["src_host"], "target_label": "dst_host", "action": "dropequal"}],
    "hashmod": [
        {"source_labels": ["instance"], "target_label": "shard", "modulus": 4, "action": "hashmod"},
        {"source_labels": ["__name__", "instance"], "separator": ",", "target_label": "big",
         "modulus": 1000000007, "action": "hashmod"},
        {"source_labels": ["msg"], "target_label": "msg_hash", "modulus": 18446744073709551615, "action": "hashmod"}],
    "hashmod_then_keep_shard": [
        {"source_labels": ["instance", "__name__"], "target_label": "__tmp_hash", "modulus": 3, "action": "hashmod"},
        {"source_labels": ["__tmp_hash"], "regex": "0|2", "action": "keep"},
        {"regex": "__tmp_hash", "action": "labeldrop"}],
    "labelmap": [
        {"regex": "(.*)_host", "replacement": "host_$1", "action": "labelmap"},
        {"regex": "tmp_(.*)", "action": "labelmap"}],
    "labelmap_onto_existing_names": [
        {"regex": "(m.*)", "action": "labelmap"},
        {"regex": "(a|b)", "replacement": "c", "action": "labelmap"}],
    "labeldrop": [
        {"regex": "code|path|tmp_.*|[a-c]", "action": "labeldrop"}],
    "labelkeep": [
        {"regex": "__name__|job|instance|device|.*_host", "action": "labelkeep"}],
    "lowercase_uppercase": [
        {"source_labels": ["role"], "target_label": "role_lower", "action": "lowercase"},
        {"source_labels": ["method", "node"], "target_label": "upper", "action": "uppercase"},
        {"source_labels": ["owner"], "target_label": "owner_lower", "action": "lowercase"},
        {"source_labels": ["owner"], "target_label": "owner_upper", "action": "uppercase"},
        {"source_labels": ["team"], "target_label": "team", "action": "lowercase"}],
    "regex_features": [
        {"source_labels": ["mountpoint"], "regex": "/var/lib/docker/.+?/(\\w+)/.*", "target_label": "container_id"},
        {"source_labels": ["version"], "regex": "v(?P<major>\\d+)\\.(?P<minor>\\d+).*",
         "target_label": "major_minor", "replacement": "${major}.$minor"},
        {"source_labels": ["instance"], "regex": "(\\d+)\\.(\\d+)\\.\\d+\\.\\d+:.*", "target_label": "net",
         "replacement": "$1.$2"}],
    "chain_like_service_discovery": [
        {"source_labels": ["job"], "regex": "node|api|validator", "action": "keep"},
        {"source_labels": ["instance"], "regex": "(.+?)(?::\\d+)?", "target_label": "host"},
        {"source_labels": ["job", "host"], "separator": "@", "target_label": "instance"},
        {"source_labels": ["host"], "target_label": "shard", "modulus": 2, "action": "hashmod"},
        {"source_labels": ["shard"], "regex": "1", "action": "drop"},
        {"regex": "shard|fstype", "action": "labeldrop"},
        {"source_labels": ["region"], "target_label": "region", "action": "uppercase"}],
}

# Rule lists Prometheus's config loader refuses; vigil's parser must too.
BAD_CASES = {
    "replace_without_target": [{"source_labels": ["a"]}],
    "unknown_action": [{"source_labels": ["a"], "action": "rename", "target_label": "b"}],
    "invalid_regex": [{"source_labels": ["a"], "regex": "(", "target_label": "b"}],
    "unknown_key": [{"source_labels": ["a"], "target_label": "b", "regexp": "x"}],
    "hashmod_without_modulus": [{"source_labels": ["a"], "target_label": "b", "action": "hashmod"}],
    "hashmod_templated_target": [{"source_labels": ["a"], "target_label": "b$1", "modulus": 2, "action": "hashmod"}],
    "invalid_target": [{"source_labels": ["a"], "target_label": "-b"}],
    "lowercase_with_replacement": [{"source_labels": ["a"], "target_label": "b", "replacement": "x",
                                    "action": "lowercase"}],
    "labelmap_invalid_replacement": [{"regex": "(.*)", "replacement": "a-$1", "action": "labelmap"}],
    "labeldrop_with_source_labels": [{"source_labels": ["a"], "regex": "a", "action": "labeldrop"}],
    "labelkeep_with_empty_source_list": [{"source_labels": [], "regex": "a", "action": "labelkeep"}],
    "keepequal_with_regex": [{"source_labels": ["a"], "target_label": "b", "regex": "(.*)", "action": "keepequal"}],
    "dropequal_with_separator": [{"source_labels": ["a", "b"], "target_label": "c", "separator": ",",
                                  "action": "dropequal"}],
    "invalid_source_label": [{"source_labels": ["a-b"], "target_label": "c"}],
    "null_rule": [None],
}
# Near misses of the bad ones that both must accept.
GOOD_EDGE_CASES = {
    "keepequal_with_default_separator": [{"source_labels": ["a"], "target_label": "b", "separator": ";",
                                          "action": "keepequal"}],
    "labeldrop_with_default_replacement": [{"regex": "a", "replacement": "$1", "action": "labeldrop"}],
    "lowercase_with_default_replacement": [{"source_labels": ["a"], "target_label": "b", "replacement": "$1",
                                            "action": "lowercase"}],
    "replace_templated_target": [{"source_labels": ["a"], "target_label": "x_${1}_$2y"}],
    "hashmod_modulus_one": [{"source_labels": ["a"], "target_label": "b", "modulus": 1, "action": "hashmod"}],
}


class Exposition(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = EXPOSITION.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def canonical(labels):
    def esc(v):
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{esc(labels[k])}"' for k in sorted(labels)) + "}"


def write(path, obj):
    # JSON is YAML: both yaml.v2 and yaml-cpp read it the same way.
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exposition)
threading.Thread(target=server.serve_forever, daemon=True).start()
work = tempfile.mkdtemp(prefix="vigil-relabel.")
prom = None
prom_log = open(os.path.join(work, "prometheus.log"), "w")


def stop_prom():
    vt.stop_process(prom)
    prom_log.close()


with vt.running(lambda: None, stop_prom, server.shutdown, lambda: shutil.rmtree(work, ignore_errors=True)):
    # vigil's side first: the tool's output per case.
    with open(os.path.join(work, "metrics.txt"), "w") as f:
        f.write(EXPOSITION)
    vigil_out = {}
    for name, rules in CASES.items():
        write(os.path.join(work, f"{name}.yml"), rules)
        r = subprocess.run([tool, os.path.join(work, f"{name}.yml"), os.path.join(work, "metrics.txt")],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            c.check(f"relabel_tool accepts {name}", False, r.stderr)
            continue
        vigil_out[name] = sorted(set(r.stdout.splitlines()))

    # Config validation: promtool and vigil's parser agree on refusals and near misses.
    for name, rules in list(BAD_CASES.items()) + list(GOOD_EDGE_CASES.items()):
        bad = name in BAD_CASES
        cfg = {"scrape_configs": [{"job_name": "j", "static_configs": [{"targets": ["127.0.0.1:1"]}],
                                   "metric_relabel_configs": rules}]}
        write(os.path.join(work, f"check-{name}.yml"), cfg)
        write(os.path.join(work, f"rules-{name}.yml"), rules)
        p = subprocess.run([promtool, "check", "config", os.path.join(work, f"check-{name}.yml")],
                           capture_output=True, text=True, timeout=30)
        v = subprocess.run([tool, os.path.join(work, f"rules-{name}.yml"), os.path.join(work, "metrics.txt")],
                           capture_output=True, text=True, timeout=30)
        c.check(f"promtool {'refuses' if bad else 'accepts'} {name}", (p.returncode != 0) == bad,
                (p.stdout + p.stderr).strip()[-400:])
        c.check(f"vigil {'refuses' if bad else 'accepts'} {name}", (v.returncode == 2) == bad and v.returncode in (0, 2),
                f"exit {v.returncode}: {v.stderr.strip()}")
        if bad and name == "null_rule":
            # yaml-cpp gives a null entry no trustworthy position: its index names it.
            c.check(f"vigil's error for {name} names the entry",
                    re.search(r"rules-\w+\.yml: relabel_configs\[0\]: empty or null", v.stderr), v.stderr.strip())
        elif bad:
            c.check(f"vigil's error for {name} names a position and field",
                    re.search(r"rules-\w+\.yml:[1-9]\d*:[1-9]\d*: relabel_configs\[0\]", v.stderr), v.stderr.strip())

    # Prometheus's side: one job per case, the same rules plus the marker rule.
    port = vt.free_port()
    target = f"127.0.0.1:{server.server_address[1]}"
    jobs = []
    for name, rules in CASES.items():
        jobs.append({"job_name": name, "honor_labels": True, "scrape_interval": "1s", "scrape_timeout": "1s",
                     "static_configs": [{"targets": [target]}],
                     "metric_relabel_configs": rules + [{"target_label": "vigil_case", "replacement": name}]})
    write(os.path.join(work, "prometheus.yml"), {"global": {"scrape_interval": "1s"}, "scrape_configs": jobs})
    started = time.time()
    prom = subprocess.Popen([prom_bin, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=prom_log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    vt.wait_until(lambda: vt.get(base + "/-/ready")[0] == 200, timeout=30, what="prometheus ready")

    def all_scraped():
        targets = vt.api(base, "/api/v1/targets")["activeTargets"]
        done = {t["scrapePool"]: t for t in targets if t["lastScrape"] and not t["lastScrape"].startswith("0001")}
        return done if len(done) == len(CASES) else None
    scraped = vt.wait_until(all_scraped, timeout=60, interval=0.5, what="every job scraped once")
    # A scrape whose series Prometheus refuses is reported as down; that would hide a difference.
    for name in CASES:
        t = scraped[name]
        c.check(f"prometheus scraped {name}", t["health"] == "up", t.get("lastError"))
    for name in CASES:
        series = vt.api(base, "/api/v1/series", **{"match[]": f'{{vigil_case="{name}"}}', "start": started - 60})
        prom_out = sorted({canonical({k: v for k, v in s.items() if k != "vigil_case"}) for s in series})
        mine = vigil_out.get(name)
        detail = ""
        if mine is not None and mine != prom_out:
            only_v = sorted(set(mine) - set(prom_out))
            only_p = sorted(set(prom_out) - set(mine))
            detail = "\n  only vigil:      " + "\n                   ".join(only_v) + \
                     "\n  only prometheus: " + "\n                   ".join(only_p)
        c.check(f"{name}: {len(prom_out)} series equal to prometheus's", mine == prom_out and len(prom_out) > 0,
                detail)
c.finish()
