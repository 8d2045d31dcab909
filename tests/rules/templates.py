#!/usr/bin/env python3
"""Expands the alert templates of templates/rules.yml with vigil and with
promtool for a range of values and checks both print the same labels and
annotations (each run's failure report shows every expanded annotation).
Exits 77 (skipped) when promtool is not installed.

  templates.py --vigil PATH [--promtool PATH]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
VALUES = ["0.5", "1234567", "1e-07", "0.000123", "123456", "-1500", "1e21", "3661.5", "0", "NaN", "+Inf",
          "-Inf", "1435065584.128", "100", "1048576", "0.1", "2.9999999999999996", "1e6", "999999", "-0.001"]

TEST = """rule_files: [{rules}]
tests:
- interval: 1m
  external_labels: {{env: prod}}
  external_url: http://ext:9090
  input_series:
  - series: 'm{{x="foo", y="bar"}}'
    values: '{value}'
  alert_rule_test:
  - {{eval_time: 0, alertname: T, exp_alerts: []}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--promtool", default=shutil.which("promtool"))
    args = ap.parse_args()
    if not args.promtool:
        print("promtool not installed; skipping")
        return 77
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for value in VALUES:
            path = os.path.join(tmp, "t.yml")
            with open(path, "w") as f:
                f.write(TEST.format(rules=os.path.join(HERE, "templates", "rules.yml"), value=value))
            outs = []
            for cmd in (os.path.abspath(args.vigil), args.promtool):
                r = subprocess.run([cmd, "test", "rules", path], capture_output=True, text=True, timeout=60)
                outs.append(r.stderr)
            if outs[0] != outs[1]:
                failed += 1
                print("value %s differs:\n  vigil:    %s\n  promtool: %s" % (value, outs[0], outs[1]))
            else:
                print("value %s: same" % value)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
