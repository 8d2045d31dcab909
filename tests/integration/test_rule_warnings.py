"""`vigil run` loads a rule file whose severity alerting.severities does not
name, and says so in its log with the file position (the check commands
already warn; a running agent must too)."""
import json
import os
import shutil
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()
work = tempfile.mkdtemp(prefix="vigil-sev.")
rules = os.path.join(work, "r.yml")
with open(rules, "w") as f:
    f.write("groups: [{name: g, rules: [{alert: Spicy, expr: vector(1), labels: {severity: spicy}},\n"
            "                           {alert: Warned, expr: vector(1), labels: {severity: warning}}]}]\n")
v = None
with vt.running(lambda: v, lambda: shutil.rmtree(work, ignore_errors=True)):
    v = vt.Vigil(a.vigil, f"global: {{scrape_interval: 1s}}\nhost: {{enabled: false}}\nrule_files: ['{rules}']\n")
    v.wait_ready()
    names = [r["name"] for g in json.loads(vt.get(v.url + "/api/v1/rules")[2])["data"]["groups"] for r in g["rules"]]
    c.check("both rules load", names == ["Spicy", "Warned"], str(names))
    logs = v.logs()
    c.check("the unmapped severity is a logged warning naming file:line:col",
            f'{rules}:1:' in logs and 'severity \\"spicy\\" is not in alerting.severities' in logs, logs[-1500:])
    c.check("a severity the default map names is not warned about", '\\"warning\\" is not in' not in logs)
c.finish()
