"""The OpenMetrics file both query tests backfill: two hours of 15 s samples
whose timestamps sit 3.25 s past the 15 s grid, so no sample lies exactly on a
window boundary of queries evaluated at *.5 s (where Prometheus 2's
left-closed and Prometheus 3's left-open windows would differ).

Counters start far from zero: when a rate window begins before a counter's
first sample, Prometheus 2.42 caps the extrapolation to the start at the
counter's zero point before checking the 1.1-interval threshold, Prometheus 3
after it (so 3 extrapolates at most half an interval); a large first value
keeps the zero point out of reach and both agree."""
import math
import random

T0 = 1700000000          # 2023-11-14T22:13:20Z
STEP = 15
POINTS = 480             # 2 h
OFFSET = 3.25            # exact in binary, so both stores read the same milliseconds
END = T0 + STEP * (POINTS - 1) + OFFSET


def ts(i):
    return T0 + STEP * i + OFFSET


def openmetrics():
    rnd = random.Random(42)
    out = []

    def series(name, labels, values):
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for i, v in enumerate(values):
            if v is None:
                continue
            out.append(f"{name}{{{lab}}} {v!r} {ts(i)}")

    # Counters, one with a reset in the middle and one that starts late.
    for inst in ("a", "b"):
        for code in ("200", "500"):
            total, vals = rnd.uniform(5000, 20000), []
            rate = 10 if code == "200" else 0.5
            for i in range(POINTS):
                total += rnd.uniform(0, 2 * rate) * STEP
                if inst == "b" and code == "200" and i == 240:
                    total = rnd.uniform(0, 5)  # counter reset (restart)
                vals.append(round(total, 3))
            if inst == "b" and code == "500":
                vals = [None] * 100 + vals[100:]
            series("demo_http_requests_total", {"job": "api", "instance": inst, "code": code}, vals)
    # Gauges: a noisy load, a slow sine, and one that disappears after 1 h.
    for inst in ("a", "b", "c"):
        series("demo_load", {"job": "node", "instance": inst},
               [round(rnd.uniform(0, 4), 2) for _ in range(POINTS)])
    series("demo_temp_celsius", {"room": "lab"},
           [round(20 + 5 * math.sin(i / 40), 4) for i in range(POINTS)])
    series("demo_temp_celsius", {"room": "hall"},
           [round(18 + 3 * math.cos(i / 25), 4) if i < 240 else None for i in range(POINTS)])
    # A classic histogram per instance.
    les = ("0.05", "0.1", "0.25", "0.5", "1", "+Inf")
    for inst in ("a", "b"):
        counts = [0] * len(les)
        rows = [[] for _ in les]
        sums, total_counts = [], []
        s = 0.0
        for i in range(POINTS):
            for _ in range(rnd.randint(0, 20)):
                d = rnd.expovariate(1 / 0.2)
                s += d
                for k, le in enumerate(les):
                    if le == "+Inf" or d <= float(le):
                        counts[k] += 1
            for k in range(len(les)):
                rows[k].append(counts[k])
            sums.append(round(s, 4))
            total_counts.append(counts[-1])
        for k, le in enumerate(les):
            series("demo_latency_seconds_bucket", {"job": "api", "instance": inst, "le": le}, rows[k])
        series("demo_latency_seconds_sum", {"job": "api", "instance": inst}, sums)
        series("demo_latency_seconds_count", {"job": "api", "instance": inst}, total_counts)
    # An info-style metric to join on.
    for inst, version in (("a", "1.2.0"), ("b", "1.3.1")):
        series("demo_build_info", {"instance": inst, "version": version}, [1] * POINTS)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def write(path):
    with open(path, "w") as f:
        f.write(openmetrics())
