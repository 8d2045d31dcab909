"""Degradation detection end to end (docs/degradation.md): 28 days of an RPC
latency with a daily peak (3x at 14:00 UTC) backfilled with `vigil tsdb
import`; the running agent learns its baseline, records the band beside the
live value (from a textfile) and, with the default MetricAboveBaseline rule
(its `for` shortened), stays quiet at the normal value for this time of day
and fires, naming the metric, its normal range and its value, once the
latency is 4x normal. A bad `baselines:` entry is refused with file:line."""
import json
import math
import os
import random
import re
import subprocess
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
now = int(time.time())


def normal(t):
    hour = (t % 86400) / 3600
    return 0.1 * (1 + 2 * math.exp(-(hour - 14) ** 2 / (2 * 1.5 ** 2)))


def query(url, q):
    return vt.api(url, "/api/v1/query", query=q)["result"]


def one(url, q):
    res = query(url, q)
    return float(res[0]["value"][1]) if len(res) == 1 else None


with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    om = os.path.join(tmp, "history.om")
    rng = random.Random(15)
    with open(om, "w") as f:
        f.write("# TYPE rpc_latency_seconds gauge\n")
        # Every 5 minutes for 28 days, each sample ±8 %, ending before the 5m lookback.
        for t in range(now - 28 * 86400, now - 600, 300):
            f.write(f'rpc_latency_seconds{{service="validator"}} {normal(t) * rng.gauss(1, 0.08):.6f} {t}\n')
        f.write("# EOF\n")
    r = subprocess.run([a.vigil, "tsdb", "import", "--data-dir", data, om], capture_output=True, text=True,
                       timeout=300)
    c.check("28 days imported", r.returncode == 0, r.stderr[-500:])

    # The shipped P2 rules, evaluated every second and holding 4 s instead of 30 m.
    with open(os.path.join(a.source_dir, "deploy", "rules", "validator.yml")) as f:
        pack = f.read()
    pack = re.sub(r"interval: \S+", "interval: 1s", pack)
    pack = pack.replace("for: 30m", "for: 4s")
    rules = os.path.join(tmp, "validator.yml")
    with open(rules, "w") as f:
        f.write(pack)
    textdir = os.path.join(tmp, "textfile")
    os.mkdir(textdir)

    def serve(value):
        with open(os.path.join(textdir, "latency.prom.tmp"), "w") as f:
            f.write(f'rpc_latency_seconds{{service="validator"}} {value}\n')
        os.rename(os.path.join(textdir, "latency.prom.tmp"), os.path.join(textdir, "latency.prom"))

    serve(normal(now))
    config = f"""global: {{scrape_interval: 1s}}
textfile: {{directory: '{textdir}'}}
rule_files: ['{rules}']
baselines:
  # The imported series has no job/instance, the live one has; one series per service.
  - {{name: rpc_latency, expr: 'max by (service) (rpc_latency_seconds)', min_width: 0.01}}
"""
    v = vt.Vigil(a.vigil, config, data_dir=data)
    with vt.running(lambda: v):
        v.wait_ready()
        sel = '{baseline="rpc_latency",service="validator"}'
        vt.wait_until(lambda: one(v.url, "vigil_baseline_upper" + sel) is not None, timeout=60,
                      what="the band recorded")
        median = one(v.url, "vigil_baseline_median" + sel)
        upper = one(v.url, "vigil_baseline_upper" + sel)
        samples = one(v.url, "vigil_baseline_samples" + sel)
        print(f"at {time.strftime('%H:%M', time.gmtime(now))} UTC: normal {normal(now):.3f}, learned median "
              f"{median:.3f}, upper {upper:.3f}, from {samples:.0f} samples")
        c.check("the median follows the time of day", abs(median - normal(now)) < 0.15 * normal(now) + 0.01,
                (median, normal(now)))
        c.check("the band is above the median", upper > median, (median, upper))
        c.check("about 28 days at the 10-minute read step", 3900 <= samples <= 4100, samples)
        c.check("no lower bound for a baseline whose bad side is up",
                query(v.url, "vigil_baseline_lower" + sel) == [])
        c.check("the live value recorded beside the band",
                abs(one(v.url, "vigil_baseline_value" + sel) - normal(now)) < 1e-6)

        def alerts():
            body = json.loads(vt.get(v.url + "/api/v1/alerts")[2])
            return [x for x in body["data"]["alerts"] if x["labels"].get("alertname") == "MetricAboveBaseline"]

        time.sleep(6)  # longer than the rule's `for`
        c.check("no alert at the normal value for this time of day", alerts() == [], alerts())

        slow = round(4 * normal(now), 4)
        serve(slow)
        firing = vt.wait_until(lambda: [x for x in alerts() if x["state"] == "firing"], timeout=30,
                               what="MetricAboveBaseline firing")
        ann = firing[0]["annotations"]
        print("summary:", ann.get("summary"))
        print("description:", ann.get("description"))
        m = re.fullmatch(r"rpc_latency of validator is (\S+); normal for this time of day is (\S+)–(\S+) "
                         r"\(median (\S+)\)\.", ann.get("description", ""))
        c.check("the description names the metric, its value and its normal range", m is not None, ann)
        c.check("the summary", ann.get("summary") == "rpc_latency is above its normal range", ann)
        c.check("labelled P2 with the series' labels",
                firing[0]["labels"].get("severity") == "medium" and firing[0]["labels"].get("service") == "validator",
                firing[0]["labels"])

        serve(normal(now))
        vt.wait_until(lambda: alerts() == [], timeout=30, what="the alert resolved")
        c.check("resolved when the latency is normal again", True)

    bad = os.path.join(tmp, "bad.yml")
    with open(bad, "w") as f:
        f.write("baselines:\n  - {name: x, expr: 'rate(up[5m]', bucket: 7m}\n")
    r = subprocess.run([a.vigil, "check", "config", bad], capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    c.check("bad baselines refused", r.returncode != 0, (r.returncode, out))
    c.check("the bad expr named with file:line:col", "bad.yml:2:21: baselines[0].expr: invalid PromQL" in out, out)
    c.check("the bad bucket named", "baselines[0].bucket: must be at least 1m and divide a day evenly" in out, out)

c.finish()
