"""Log following end to end: `vigil run` follows a validator-style log file
through appends, a partial line, rename rotation, copytruncate, a restart
with lines written while it was down, the file disappearing and a SIGHUP
reload; /metrics must show exact counts throughout, failures as collector
errors naming the file, and the values must reach storage."""
import json
import os
import shutil
import signal
import tempfile
import urllib.parse

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-logs-it.")
log = os.path.join(work, "validator.log")
data_dir = os.path.join(work, "data")

CONFIG = f"""global:
  scrape_interval: 1s
host:
  enabled: false
services:
  validator:
    logs:
      - path: {log}
        interval: 500ms
        counters: [{{name: errors, match: 'ERROR'}}, {{name: warnings, match: 'WARN'}}]
        gauges:   [{{name: slot, match: 'Processing slot (\\d+)'}}]
        states:   [{{name: titan_connected, on: 'Connected to server at titan', off: 'Detected disconnection'}}]
"""
COLLECTOR = f"logs/validator/{log}"


def append(text, path=log):
    with open(path, "a") as f:
        f.write(text)


def sample(fams, name, **labels):
    want = {("service", "validator"), ("log", log)} | set(labels.items())
    fam = fams.get(name)
    if fam is None:
        return None
    for ls, v in fam["samples"].items():
        if set(ls) == want:
            return v
    return None


def wait_for(v, what, **expected):
    """Waits until every metric named in `expected` (name or name:rule or name:kind=...) has its value."""
    def ok():
        fams = vt.parse_exposition(v.metrics())
        for key, want in expected.items():
            name, _, rule = key.partition("__")
            labels = {}
            if rule.startswith("kind_"):
                labels["kind"] = rule[len("kind_"):]
            elif rule:
                labels["rule"] = rule
            if sample(fams, name, **labels) != want:
                return False
        return fams
    try:
        fams = vt.wait_until(ok, timeout=10, what=what)
        c.check(what, True)
        return fams
    except AssertionError as e:
        fams = vt.parse_exposition(v.metrics())
        got = {k: sample(fams, k.partition("__")[0]) for k in expected}
        c.check(what, False, f"{e}; got {got}")
        return fams


append("Connected to server at titan-public-tcp.example:3030\n"
       "Processing slot 100\n"
       "ERROR failed to fetch block 99\n"
       "WARN slow peer\n")
v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
try:
    v.wait_ready()
    fams = wait_for(v, "initial lines counted", vigil_log_lines_total=4, vigil_log_matches_total__errors=1,
                    vigil_log_matches_total__warnings=1, vigil_log_value__slot=100, vigil_log_state__titan_connected=1,
                    vigil_log_up=1)
    c.check("state change time is set",
            (sample(fams, "vigil_log_state_change_timestamp_seconds", rule="titan_connected") or 0) > 1.7e9)

    append("Processing slot 101\nERROR one more\nDetected discon")
    wait_for(v, "appended lines counted, partial line held back", vigil_log_lines_total=6,
             vigil_log_matches_total__errors=2, vigil_log_value__slot=101, vigil_log_state__titan_connected=1)
    append("nection\n")
    wait_for(v, "partial line counted once completed", vigil_log_lines_total=7, vigil_log_state__titan_connected=0)

    # logrotate's default: rename, then a new file; a last line lands in the old one after the rename.
    append("ERROR before rotation\n")
    os.rename(log, log + ".1")
    append("ERROR written late to the old file\n", log + ".1")
    append("Connected to server at titan-public-tcp.example:3030\nERROR in the new file\n")
    wait_for(v, "rename rotation: nothing lost or doubled", vigil_log_lines_total=11,
             vigil_log_matches_total__errors=5, vigil_log_state__titan_connected=1,
             vigil_log_rotations_total__kind_rename=1)

    # copytruncate
    shutil.copyfile(log, log + ".2")
    with open(log, "r+") as f:
        f.truncate(0)
    append("ERROR after copytruncate\n")
    wait_for(v, "copytruncate: read again from the start", vigil_log_lines_total=12,
             vigil_log_matches_total__errors=6, vigil_log_rotations_total__kind_truncate=1)

    # Stored, not only shown: the query API sees the counter.
    q = urllib.parse.urlencode({"query": 'vigil_log_matches_total{rule="errors"}'})
    def stored():
        body = json.loads(vt.get(v.url + "/api/v1/query?" + q)[2])
        res = body["data"]["result"]
        return res and float(res[0]["value"][1]) == 6
    try:
        vt.wait_until(stored, timeout=5, what="stored log counter")
        c.check("log metrics reach storage", True)
    except AssertionError as e:
        c.check("log metrics reach storage", False, str(e))
finally:
    v.stop()

# Lines written while vigil is down are counted once after the restart, the old ones not again.
append("ERROR while down\nProcessing slot 102\n")
v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
try:
    v.wait_ready()
    wait_for(v, "restart: continues where it stopped", vigil_log_lines_total=14, vigil_log_matches_total__errors=7,
             vigil_log_value__slot=102, vigil_log_state__titan_connected=1,
             vigil_log_rotations_total__kind_rename=1, vigil_log_rotations_total__kind_truncate=1)

    os.remove(log)
    fams = wait_for(v, "missing file: up is 0", vigil_log_up=0)
    errs = fams.get("vigil_collector_errors_total", {"samples": {}})["samples"]
    key = frozenset({("collector", COLLECTOR), ("reason", "not_found"), ("target", log)})
    c.check("missing file counted as a collector error naming the file", errs.get(key, 0) >= 1,
            [dict(k) for k in errs])
    c.check("missing file logged with target and reason", f"target={log} reason=not_found" in v.logs(), v.logs())
    c.check("counts kept while the file is missing",
            sample(fams, "vigil_log_matches_total", rule="errors") == 7)

    append("ERROR the file is back\n")
    wait_for(v, "file back: read from its start", vigil_log_up=1, vigil_log_matches_total__errors=8,
             vigil_log_lines_total=15)
    # A reload replaces the collector; the new one continues the same totals.
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: "configuration reloaded" in v.logs(), timeout=5, what="reload")
    append("ERROR after the reload\n")
    wait_for(v, "reload: continues without counting twice", vigil_log_matches_total__errors=9,
             vigil_log_lines_total=16)
    state_files = [f for f in os.listdir(os.path.join(data_dir, "logs")) if f.endswith(".state")]
    c.check("position kept under the data dir", len(state_files) == 1, os.listdir(os.path.join(data_dir, "logs")))
finally:
    v.stop()
    if c.failed:
        print(v.logs())
    shutil.rmtree(v.dir, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
c.finish()
