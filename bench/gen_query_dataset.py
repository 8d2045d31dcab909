#!/usr/bin/env python3
"""Writes the dataset of bench/compare_query.sh: timestamped OpenMetrics text
(seconds, ending in `# EOF`), as `promtool tsdb create-blocks-from openmetrics`
and `vigil tsdb import` read it.

    bench/gen_query_dataset.py OUT.om [--hours H] [--interval S] [--seed N]

Series (24 h at 15 s by default, 3.5 h before now at the end):
  node_cpu_seconds_total{cpu,mode,instance}  1 000 counters (10 instances × 10 cpus × 10 modes)
  x{instance,i}                                500 random-walk gauges
  node_filesystem_avail_bytes{mountpoint,…}     20 slowly filling gauges
  h_bucket{le,instance}, h_sum, h_count         a classic histogram on 10 instances, 12 buckets
Scrape times carry a per-instance phase and a few ms of jitter, so samples
never sit exactly on window boundaries.
"""
import argparse
import random
import time

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--hours", type=float, default=24)
p.add_argument("--interval", type=int, default=15)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
rnd = random.Random(a.seed)
steps = int(a.hours * 3600 / a.interval)
end = (int(time.time()) - int(3.5 * 3600)) // 3600 * 3600
start = end - steps * a.interval
modes = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice", "guest", "guest_nice"]
bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]

families = {}  # name -> (type, [(labels, [(t, v)])])


def add(name, typ, labels, points):
    families.setdefault(name, (typ, []))[1].append((labels, points))


def times(instance):
    phase = (instance * 1.37) % a.interval
    return [start + k * a.interval + phase + rnd.uniform(0.001, 0.009) for k in range(steps)]


for inst in range(10):
    ts = times(inst)
    for cpu in range(10):
        for mode in modes:
            v, pts = rnd.uniform(0, 1e5), []
            for t in ts:
                v += rnd.uniform(0, a.interval * (0.7 if mode == "idle" else 0.05))
                pts.append((t, round(v, 2)))
            add("node_cpu_seconds_total", "unknown", f'cpu="{cpu}",instance="i{inst}",mode="{mode}"', pts)
    for i in range(50):
        v, pts = rnd.uniform(0, 100), []
        for t in ts:
            v += rnd.gauss(0, 1)
            pts.append((t, round(v, 2)))
        add("x", "gauge", f'i="{i}",instance="i{inst}"', pts)
    for m in range(2):
        v, pts = 5e11 * rnd.uniform(0.3, 0.9), []
        for t in ts:
            v -= rnd.uniform(0, 2e5)
            pts.append((t, float(int(v))))
        add("node_filesystem_avail_bytes", "gauge", f'device="sda{m}",instance="i{inst}",mountpoint="/m{m}"', pts)
    counts = [0.0] * len(bounds)
    hist = {b: [] for b in bounds}
    hsum, hcount = [], []
    total = 0.0
    for t in ts:
        for _ in range(rnd.randint(5, 30)):
            obs = rnd.expovariate(3)
            total += obs
            for j, b in enumerate(bounds):
                if b == "+Inf" or obs <= float(b):
                    counts[j] += 1
        for j, b in enumerate(bounds):
            hist[b].append((t, counts[j]))
        hsum.append((t, round(total, 3)))
        hcount.append((t, counts[-1]))
    for b in bounds:
        add("h_bucket", "unknown", f'instance="i{inst}",le="{b}"', hist[b])
    add("h_sum", "unknown", f'instance="i{inst}"', hsum)
    add("h_count", "unknown", f'instance="i{inst}"', hcount)

with open(a.out, "w") as f:
    for name, (typ, series) in families.items():
        f.write(f"# TYPE {name} {typ}\n")
        for labels, pts in series:
            for t, v in pts:
                f.write(f"{name}{{{labels}}} {v} {t:.3f}\n")
    f.write("# EOF\n")
print(f"{a.out}: start {start} end {end}")
