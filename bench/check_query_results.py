#!/usr/bin/env python3
"""Compares the answers of one query from several stores (Prometheus HTTP API
JSON), so a latency comparison is not made on different results.

    bench/check_query_results.py REFERENCE.json OTHER.json [--rel 1e-6] [--abs 1e-9]

Series are matched by their label set without __name__ (VictoriaMetrics keeps
it where Prometheus drops it only in some functions). Prints one line:
series counts, points compared, the largest relative difference and how many
points exceed the tolerance; exits 1 if the series or timestamps differ or
any value is off by more than --rel (relative) and --abs (absolute).
"""
import argparse
import json
import math
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("status") != "success":
        sys.exit(f"{path}: status {doc.get('status')}: {doc.get('error')}")
    data = doc["data"]
    out = {}
    for s in data["result"]:
        key = tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__"))
        pts = s["values"] if "values" in s else [s["value"]]
        out[key] = {round(float(t) * 1000): float(v) for t, v in pts}
    return data["resultType"], out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("reference")
    p.add_argument("other")
    p.add_argument("--rel", type=float, default=1e-6)
    p.add_argument("--abs", type=float, default=1e-9)
    a = p.parse_args()
    rtype, ref = load(a.reference)
    otype, oth = load(a.other)
    problems = []
    if rtype != otype:
        problems.append(f"result types {rtype} vs {otype}")
    missing = [k for k in ref if k not in oth]
    extra = [k for k in oth if k not in ref]
    if missing or extra:
        problems.append(f"{len(missing)} series missing, {len(extra)} extra (e.g. {(missing or extra)[0]})")
    compared = off = ts_mismatch = 0
    worst = 0.0
    for k, rp in ref.items():
        op = oth.get(k)
        if op is None:
            continue
        if rp.keys() != op.keys():
            ts_mismatch += 1
        for t, rv in rp.items():
            if t not in op:
                continue
            ov = op[t]
            compared += 1
            if math.isnan(rv) and math.isnan(ov):
                continue
            if rv == ov:
                continue
            diff = abs(rv - ov)
            rel = diff / max(abs(rv), abs(ov)) if math.isfinite(diff) else math.inf
            worst = max(worst, rel)
            if diff > a.abs and rel > a.rel:
                off += 1
    if ts_mismatch:
        problems.append(f"{ts_mismatch} series with different timestamps")
    if off:
        problems.append(f"{off} values off by more than {a.rel:g} relative")
    print(f"series {len(ref)}/{len(oth)}, points compared {compared}, max rel diff {worst:.3g}"
          + ("" if not problems else ": " + "; ".join(problems)))
    return 1 if problems or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
