"""Slack incoming webhooks and the generic webhook (Alertmanager's version-4
payload) end to end: `vigil run` with rules driven by a textfile metric,
delivering to tests/emulators/webhooks.py, which checks each request against
the documented schema. Colours by severity, firing then resolved, a digest
of many alerts in one Slack message, `max_alerts` truncation, a wrong Slack
URL (404 no_service) left as a dead letter, and the webhook URLs' secrets
never in the log or the API."""
import json
import os
import shutil
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()
SECRET = "slack-test-secret-0123456789"
hooks = vt.Emulator(a.source_dir, "webhooks", "--slack-secret", SECRET)
work = tempfile.mkdtemp(prefix="vigil-webhooks.")
textdir = os.path.join(work, "textfile")
os.makedirs(textdir)


def set_metric(up):
    tmp = os.path.join(textdir, ".demo.prom.tmp")
    with open(tmp, "w") as f:
        f.write(f"demo_up {up}\n")
    os.rename(tmp, os.path.join(textdir, "demo.prom"))


set_metric(0)
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: g
    interval: 1s
    rules:
      - alert: DemoDown
        expr: demo_up == 0
        labels: {severity: critical, service: demo}
        annotations: {summary: 'demo is down', description: 'the demo unit stopped'}
      - alert: DiskFilling
        expr: label_replace(vector(1), "disk", "sd$1", "", "") or label_replace(vector(2), "disk", "sdb", "", "")
          or label_replace(vector(3), "disk", "sdc", "", "") or label_replace(vector(4), "disk", "sdd", "", "")
          or label_replace(vector(5), "disk", "sde", "", "") or label_replace(vector(6), "disk", "sdf", "", "")
        labels: {severity: medium}
        annotations: {summary: 'disk {{ $labels.disk }} fills up'}
      - alert: Canary
        expr: vector(1)
        labels: {severity: low, route: broken}
""")
SLACK_URL = f"{hooks.url}/services/T0001/B0001/{SECRET}"
CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
textfile: {{directory: '{textdir}'}}
rule_files: ['{rules}']
alerting:
  route:
    receiver: ops
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    routes:
      - {{matchers: ['route="broken"'], receiver: wrong-slack}}
  receivers:
    - name: ops
      slack_configs: [{{api_url: '{SLACK_URL}', channel: '#validators'}}]
      webhook_configs: [{{url: '{hooks.url}/alertmanager', max_alerts: 4}}]
    - name: wrong-slack
      slack_configs: [{{api_url: '{hooks.url}/services/T0001/B0001/not-the-secret'}}]
"""
v = None
with vt.running(lambda: v, lambda: hooks.stop(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()

    def events(kind):
        return [e["data"] for e in json.loads(vt.get(hooks.url + "/_events")[2]) if e["kind"] == kind]

    def slack_with(text):
        return [m for m in events("slack") if any(text in json.dumps(x) for x in m.get("attachments", []))]

    def hook_for(alertname, status="firing"):
        return [m for m in events("webhook") if m["commonLabels"].get("alertname") == alertname and
                m["status"] == status]

    # Slack: the P0 alone, red, firing; the channel set.
    p0 = vt.wait_until(lambda: slack_with("demo is down"), timeout=20, what="Slack P0")[0]
    c.check("Slack: the P0's attachment is red and says firing, host and since",
            p0["attachments"][0]["color"] == "#d00000" and "*Firing*" in json.dumps(p0) and "since" in json.dumps(p0),
            p0)
    c.check("Slack: the channel and a non-empty fallback text", p0.get("channel") == "#validators" and p0["text"], p0)
    # Slack digest: six disks in one message, coloured medium.
    digest = vt.wait_until(lambda: slack_with("fills up"), timeout=20, what="Slack digest")[0]
    c.check("Slack: six alerts of a group in one message (a digest), coloured for medium",
            len(digest["attachments"]) == 6 and all(x["color"] == "#f2c744" for x in digest["attachments"]),
            digest)

    # Webhook v4: schema-checked by the emulator; max_alerts truncates.
    down = vt.wait_until(lambda: hook_for("DemoDown"), timeout=20, what="webhook P0")[0]
    c.check("webhook v4: version, receiver, status and one alert with its fingerprint",
            down["version"] == "4" and down["receiver"] == "ops" and len(down["alerts"]) == 1 and
            down["alerts"][0]["labels"]["service"] == "demo" and down["truncatedAlerts"] == 0, down)
    disks = vt.wait_until(lambda: hook_for("DiskFilling"), timeout=20, what="webhook digest")[0]
    c.check("webhook v4: max_alerts 4 sends four and counts two truncated",
            len(disks["alerts"]) == 4 and disks["truncatedAlerts"] == 2, disks)

    # Resolved: both integrations say so.
    set_metric(1)
    resolved = vt.wait_until(lambda: hook_for("DemoDown", "resolved"), timeout=20, what="webhook resolve")[0]
    c.check("webhook v4: the resolve has endsAt after startsAt",
            resolved["alerts"][0]["status"] == "resolved" and
            resolved["alerts"][0]["endsAt"] > resolved["alerts"][0]["startsAt"], resolved)
    res = vt.wait_until(lambda: [m for m in slack_with("demo is down") if "*Resolved*" in json.dumps(m)],
                        timeout=20, what="Slack resolve")[0]
    c.check("Slack: the resolve is green", res["attachments"][0]["color"] == "#2eb886", res)

    # A wrong Slack URL: 404 no_service is final, a dead letter; the secret never shows.
    def dead():
        f = vt.parse_exposition(v.metrics()).get("vigil_notifications_dead_letters")
        return f and next(iter(f["samples"].values())) >= 1

    c.check("Slack 404 no_service becomes a dead letter", vt.wait_until(dead, timeout=30, what="dead letter"))
    history = vt.get(v.url + "/api/v1/notifications")[2]
    c.check("the dead letter's reason is in the history", "no_service" in history, history[:500])
    c.check("no webhook secret in the log or the API",
            SECRET not in v.logs() and "not-the-secret" not in v.logs() and SECRET not in history and
            "not-the-secret" not in history)
    c.check("vigil still serves", vt.get(v.url + "/-/ready")[0] == 200)

    # A slow Slack (4 s per answer) does not hold up the webhook of the same alert.
    hooks.scenario("slow", delay=4)
    t0 = time.time()
    set_metric(0)
    hook = vt.wait_until(lambda: [e for e in json.loads(vt.get(hooks.url + "/_events")[2])
                                  if e["kind"] == "webhook" and e["time"] > t0 and
                                  e["data"]["commonLabels"].get("alertname") == "DemoDown"],
                         timeout=20, what="the webhook while Slack is slow")[0]
    slack = vt.wait_until(lambda: [e for e in json.loads(vt.get(hooks.url + "/_events")[2])
                                   if e["kind"] == "slack" and e["time"] > t0 and "demo is down" in json.dumps(e)],
                          timeout=20, what="the slow Slack message")[0]
    print(f"webhook after {hook['time'] - t0:.2f} s, slow Slack after {slack['time'] - t0:.2f} s")
    c.check("receivers are sent to concurrently: the webhook arrives while Slack is still answering",
            hook["time"] < slack["time"] - 2, (hook["time"] - t0, slack["time"] - t0))
c.finish()
