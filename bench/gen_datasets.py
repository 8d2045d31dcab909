#!/usr/bin/env python3
"""Writes the datasets of bench/compare_storage.sh: timestamped OpenMetrics text
as `promtool tsdb create-blocks-from openmetrics` reads it.

    bench/gen_datasets.py OUT_DIR [--node-seconds N] [--only node|synthetic] [--seed S]

Files (in OUT_DIR):
  node_1s.om        real host metrics: Debian's prometheus-node-exporter (default
                    collectors) on 127.0.0.1:<free port>, scraped once a second
                    for N seconds (default 600). Each scrape is stamped with the
                    wall-clock time at which it started, like Prometheus does; then
                    every timestamp is moved back by one constant whole number of
                    seconds so the data starts in the first second of a 2 h block
                    and ends more than 3 h before now (backfill territory). The
                    sub-second phase and the scrape-to-scrape jitter are the real
                    ones. Histogram and summary families are kept, as plain
                    series (each `_bucket`/`_sum`/`_count`/quantile series is its
                    own family of type `unknown`): they are real storage load.
  synthetic_1s.om   400 series for 2 h at 1 s (2,880,000 samples);
  synthetic_15s.om  the same 400 series for 24 h at 15 s (2,304,000 samples).
                    200 counters increasing irregularly (bursty integer event
                    counts, and CPU-seconds style counters with 2 decimals) and
                    200 gauges random-walking with 2-decimal values, spread over
                    4 targets; each target has its own scrape phase and every
                    scrape gets a few ms of jitter (one timestamp per scrape and
                    target, as a real scraper stamps them). Seeded: the same
                    --seed gives the same values and jitter; the start is the
                    latest 2 h boundary that keeps the end 3 h before now.

Python 3 standard library only.
"""

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request

BLOCK_S = 7200          # Prometheus' (and vigil's) 2 h block range
MIN_AGE_S = 3 * 3600    # the data ends at least this long before now
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


def fmt_ts(ms):
    """Milliseconds -> OpenMetrics seconds with exactly three decimals."""
    return "%d.%03d" % divmod(ms, 1000)


def aligned_start(span_s, now_s):
    """The latest 2 h boundary from which span_s seconds end >= MIN_AGE_S before now."""
    return int((now_s - MIN_AGE_S - span_s) // BLOCK_S) * BLOCK_S


# ---------------------------------------------------------------- node_exporter


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Exporter:
    """node_exporter on a free loopback port; stopped by PID."""

    def __init__(self, log_path):
        self.port = free_port()
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d/metrics" % self.port

    def wait_ready(self, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("node_exporter exited during startup (status %s)" % self.proc.returncode)
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    r.read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("node_exporter not ready after %.0f s" % timeout_s)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # by PID: Popen signals its own child
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()


def parse_exposition(text):
    """Prometheus text 0.0.4 -> (types {family: type}, [(family, series_text, value_text)]).

    series_text is `name{labels}` exactly as exposed (label escaping is the same
    in OpenMetrics). Samples are attributed to the family of the last # TYPE
    line whose name they extend (name, name_bucket, name_sum, ...)."""
    types = {}
    samples = []
    current = None
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                current = parts[2]
                types[current] = parts[3].strip()
            continue
        brace = line.find("{")
        if brace >= 0:
            close = line.rfind("}")
            series, rest = line[:close + 1], line[close + 1:].split()
            name = line[:brace]
        else:
            fields = line.split()
            series, rest = fields[0], fields[1:]
            name = series
        if not rest:
            continue
        value = rest[0]
        family = current if current and name.startswith(current) else name
        samples.append((family, name, series, value))
    return types, samples


def om_families(types, samples):
    """Decides the OpenMetrics family (name, type) each exposed sample name goes to.

    counter `x_total` -> family `x` (OpenMetrics counter samples end in _total);
    gauge -> same name; everything else (untyped, histogram and summary series,
    counters without _total) -> a family of type unknown per sample name."""
    names = {}
    for family, name, _series, _value in samples:
        if name in names:
            continue
        t = types.get(family)
        if t == "gauge" and name == family:
            names[name] = (name, "gauge")
        elif t == "counter" and name == family and name.endswith("_total"):
            names[name] = (name[:-len("_total")], "counter")
        else:
            names[name] = (name, "unknown")
    # A counter family name must not collide with another family's name.
    for name, (fam, t) in list(names.items()):
        if t == "counter" and fam in names and fam != name:
            names[name] = (name, "unknown")
    return names


def write_node(path, seconds):
    exporter = Exporter(path + ".node_exporter.log")
    scrapes = []  # (ms, text)
    failures = 0
    try:
        exporter.wait_ready()
        print("node_exporter pid %d on %s; scraping every 1 s for %d s"
              % (exporter.proc.pid, exporter.url, seconds), file=sys.stderr)
        start = time.time()
        first = int(start) + 1
        for i in range(seconds):  # bounded: one iteration per second
            target = first + i
            delay = target - time.time()
            if delay > 0:
                time.sleep(delay)
            if exporter.proc.poll() is not None:
                raise RuntimeError("node_exporter died during the run")
            t0 = time.time()
            try:
                with urllib.request.urlopen(exporter.url, timeout=0.9) as r:
                    text = r.read().decode("utf-8")
            except OSError:
                failures += 1
                continue
            scrapes.append((int(t0 * 1000), text))
            if (i + 1) % 60 == 0:
                print("  %d/%d scrapes" % (i + 1, seconds), file=sys.stderr)
    finally:
        exporter.stop()
    if not scrapes:
        raise RuntimeError("no successful scrape")
    # One constant whole-second shift: starts in the first second of a 2 h block, >= 3 h old at the end.
    first_s = scrapes[0][0] // 1000
    span = scrapes[-1][0] // 1000 - first_s + 1
    shift_ms = (aligned_start(span, time.time()) - first_s) * 1000

    per_name = {}   # sample name -> list of (ms, series, value) in scrape order
    types_all = {}
    order = []
    for ms, text in scrapes:
        types, samples = parse_exposition(text)
        types_all.update(types)
        for family, name, series, value in samples:
            if name not in per_name:
                per_name[name] = []
                order.append((family, name))
            per_name[name].append((ms + shift_ms, series, value))
    fams = om_families(types_all, [(f, n, None, None) for f, n in order])
    by_family = {}
    fam_order = []
    for _f, name in order:
        fam, t = fams[name]
        if fam not in by_family:
            by_family[fam] = (t, [])
            fam_order.append(fam)
        by_family[fam][1].append(name)
    n = 0
    series = set()
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for fam in fam_order:
            t, names = by_family[fam]
            out.write("# TYPE %s %s\n" % (fam, t))
            rows = []
            for name in names:
                rows.extend(per_name[name])
            rows.sort(key=lambda r: r[0])  # stable: time order, each series in order
            for ms, s, value in rows:
                out.write("%s %s %s\n" % (s, value, fmt_ts(ms)))
                series.add(s)
                n += 1
        out.write("# EOF\n")
    os.replace(tmp, path)
    print("%s: %d scrapes (%d failed), %d series, %d samples, shifted by %d s"
          % (path, len(scrapes), failures, len(series), n, shift_ms // 1000), file=sys.stderr)


# ---------------------------------------------------------------- synthetic

TARGETS = 4
COUNTERS = 200
GAUGES = 200


class Synth:
    """The 400 synthetic series and their state (all draws from one seeded RNG)."""

    def __init__(self, rng):
        self.rng = rng
        self.counters = []
        for i in range(COUNTERS):
            kind = "seconds" if i % 4 == 3 else "events"
            rate = rng.lognormvariate(1.5, 1.5)          # mean increase per second
            self.counters.append({
                "name": "synthetic_cpu_seconds_total" if kind == "seconds" else "synthetic_requests_total",
                "labels": 'target="t%d",id="%03d"' % (i % TARGETS, i), "target": i % TARGETS,
                "kind": kind, "rate": rate,
                "value": 0 if kind == "events" else 0.0,
                "idle": rng.random() * 0.5,                # probability of no increase in a step
            })
        self.gauges = []
        for i in range(GAUGES):
            level = rng.choice([1, 10, 100, 1000, 100000])
            self.gauges.append({
                "name": "synthetic_level",
                "labels": 'target="t%d",id="%03d"' % (i % TARGETS, i), "target": i % TARGETS,
                "value": round(level * rng.uniform(0.5, 1.5), 2),
                "step": level * rng.uniform(0.001, 0.02),   # random-walk step size
                "move": rng.uniform(0.2, 1.0),              # probability of a change per step
                "low": 0.0,
            })

    def step_counter(self, c, dt):
        rng = self.rng
        if rng.random() < c["idle"]:
            return
        mean = c["rate"] * dt
        if rng.random() < 0.02:
            mean *= rng.uniform(5, 50)   # burst
        if c["kind"] == "events":
            c["value"] += int(rng.expovariate(1.0 / mean) + 0.5) if mean > 0 else 0
        else:
            c["value"] = round(c["value"] + rng.expovariate(1.0 / mean) * 0.01, 2)

    def step_gauge(self, g):
        rng = self.rng
        if rng.random() >= g["move"]:
            return
        v = g["value"] + rng.gauss(0.0, g["step"])
        g["value"] = round(max(g["low"], v), 2)


def write_synthetic(path, span_s, interval_s, seed):
    rng = random.Random(seed)
    synth = Synth(rng)
    steps = span_s // interval_s
    start_ms = aligned_start(span_s, time.time()) * 1000
    interval_ms = interval_s * 1000
    # Each target's scrape phase within the interval, kept clear of the block edges.
    phase = [rng.randint(10, min(interval_ms - 100, interval_ms * 9 // 10)) for _ in range(TARGETS)]
    # rows[target][step] = timestamp of that scrape (a few ms of jitter around the grid)
    stamps = [[start_ms + phase[t] + k * interval_ms + max(-5, min(5, int(round(rng.gauss(0, 2)))))
               for k in range(steps)] for t in range(TARGETS)]
    # Values per series, step by step.
    counter_vals = [[None] * steps for _ in synth.counters]
    gauge_vals = [[None] * steps for _ in synth.gauges]
    for k in range(steps):
        for i, c in enumerate(synth.counters):
            if k:
                synth.step_counter(c, interval_s)
            counter_vals[i][k] = c["value"]
        for i, g in enumerate(synth.gauges):
            if k:
                synth.step_gauge(g)
            gauge_vals[i][k] = g["value"]
    tmp = path + ".tmp"
    n = 0
    with open(tmp, "w", encoding="utf-8") as out:
        def family(fam, typ, members, vals, is_float):
            nonlocal n
            out.write("# TYPE %s %s\n" % (fam, typ))
            buf = []
            for k in range(steps):   # time-major: every series stays in time order
                for i in members:
                    s = synth.counters[i] if typ == "counter" else synth.gauges[i]
                    t = s["target"]
                    v = vals[i][k]
                    buf.append("%s{%s} %s %s\n" % (s["name"], s["labels"],
                                                   ("%.2f" % v) if is_float else str(v), fmt_ts(stamps[t][k])))
                    n += 1
                if len(buf) > 20000:
                    out.write("".join(buf))
                    buf.clear()
            out.write("".join(buf))

        ev = [i for i, c in enumerate(synth.counters) if c["kind"] == "events"]
        cs = [i for i, c in enumerate(synth.counters) if c["kind"] == "seconds"]
        family("synthetic_requests", "counter", ev, counter_vals, False)
        family("synthetic_cpu_seconds", "counter", cs, counter_vals, True)
        family("synthetic_level", "gauge", list(range(GAUGES)), gauge_vals, True)
        out.write("# EOF\n")
    os.replace(tmp, path)
    print("%s: %d series, %d samples, %s .. %s" % (path, COUNTERS + GAUGES, n, fmt_ts(start_ms),
                                                    fmt_ts(start_ms + span_s * 1000)), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--node-seconds", type=int, default=600, help="node_exporter scrape window (default 600)")
    ap.add_argument("--only", choices=["node", "synthetic"], help="write only these datasets")
    ap.add_argument("--seed", type=int, default=1, help="RNG seed of the synthetic datasets (default 1)")
    args = ap.parse_args()
    if not 1 <= args.node_seconds <= 7000:
        ap.error("--node-seconds must be 1..7000 (one 2 h block)")
    os.makedirs(args.out_dir, exist_ok=True)
    # SIGTERM/SIGHUP -> exceptions, so `finally` stops node_exporter.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    if args.only in (None, "synthetic"):
        write_synthetic(os.path.join(args.out_dir, "synthetic_1s.om"), 2 * 3600, 1, args.seed)
        write_synthetic(os.path.join(args.out_dir, "synthetic_15s.om"), 24 * 3600, 15, args.seed)
    if args.only in (None, "node"):
        if not os.access(NODE_EXPORTER, os.X_OK):
            sys.exit("not executable: %s (scripts/setup.sh installs it)" % NODE_EXPORTER)
        write_node(os.path.join(args.out_dir, "node_1s.om"), args.node_seconds)


if __name__ == "__main__":
    main()
