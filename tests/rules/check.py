#!/usr/bin/env python3
"""`vigil check rules` on good and bad rule files (check/*.yml): each bad file
must fail with its problem reported at file:line:col, the good one must pass;
promtool's verdict is checked too when it is installed and must be the same
(vigil only adds warnings: unmapped severities, duplicate alerting rules).

  check.py --vigil PATH [--promtool PATH]
"""
import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check")

# file: (vigil exit, expected position and reason, promtool exit)
CASES = {
    "good.yml": (0, "SUCCESS: 3 rules found", 0),
    "expr-syntax.yml": (1, "expr-syntax.yml:5:15: group \"g\", rule 1, \"A\": could not parse expression", 1),
    "unknown-function.yml": (1, "unknown-function.yml:5:15: group \"g\", rule 1, \"r\": could not parse expression: "
                             "1:1: parse error: unknown function with name \"nosuch\"", 1),
    "duplicate-alert.yml": (0, "WARNING: duplicate-alert.yml:7:16: group \"g\", rule 2, \"Down\": duplicate alerting "
                            "rule", 0),
    "bad-template.yml": (1, "bad-template.yml:7:20: group \"g\", rule 1, \"A\": annotation summary: template: 1:23: "
                         "function \"nosuch\" not defined", 1),
    "bad-duration.yml": (1, "bad-duration.yml:6:14: group \"g\", rule 1, \"A\": for: invalid duration \"5 minutes\"", 1),
    "wrong-types.yml": (1, "wrong-types.yml:6:17: group \"g\", rule 1, \"A\": labels: expected a mapping, got a list", 1),
    "unknown-field.yml": (1, "unknown-field.yml:6:9: group \"g\", rule 1, \"A\": field severity not found in rule", 1),
    # Any severity passes, as in promtool; one the severity map does not name is only a warning.
    "warning-severity.yml": (0, "SUCCESS: 1 rules found", 0),
    "unmapped-severity.yml": (0, "WARNING: unmapped-severity.yml:6:28: group \"g\", rule 1, \"A\": severity "
                              "\"disaster\" is not in alerting.severities: counted as P3", 0),
    "duplicate-group.yml": (1, "duplicate-group.yml:4:11: groupname: \"g\" is repeated in the same file", 1),
    "record-name.yml": (1, "record-name.yml:4:17: group \"g\", rule 1, \"not a metric\": invalid recording rule name", 1),
    "yaml-error.yml": (1, "yaml-error.yml:6:8: invalid YAML", 1),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--promtool", default=shutil.which("promtool"))
    args = ap.parse_args()
    failed = 0
    for name, (want_rc, want_text, want_promtool) in sorted(CASES.items()):
        r = subprocess.run([os.path.abspath(args.vigil), "check", "rules", name], cwd=HERE, capture_output=True,
                           text=True, timeout=60)
        ok = r.returncode == want_rc and want_text in r.stdout
        line = "%-22s vigil: exit %d %s" % (name, r.returncode, "ok" if ok else "MISMATCH:\n" + r.stdout + r.stderr)
        failed += not ok
        if args.promtool:
            p = subprocess.run([args.promtool, "check", "rules", name], cwd=HERE, capture_output=True, timeout=60)
            line += "  promtool: exit %d%s" % (p.returncode, "" if p.returncode == want_promtool else " MISMATCH")
            failed += p.returncode != want_promtool
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
