"""The notification log across restarts and reloads, end to end with the
emulated PagerDuty Events API v2. A textfile metric drives a P0 rule so the
test controls when the alert fires and resolves.
- A restart while an alert fires does not page again (Alertmanager's nflog).
- An alert that resolved while vigil was down still gets its resolve.
- SIGHUP applies a changed `alerting` section (a new route and receiver)
  without re-paging what already fired; a broken one is refused and the
  running routing keeps working."""
import json
import os
import shutil
import signal
import tempfile
import time

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-notify-restart.")
textdir = os.path.join(work, "textfile")
os.makedirs(textdir)
data_dir = os.path.join(work, "data")
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: demo
    interval: 1s
    rules:
      - alert: DemoDown
        expr: demo_up == 0
        labels: {severity: critical, service: demo}
        annotations: {summary: 'demo is down'}
      - alert: DemoSlow
        expr: demo_latency_seconds > 1
        labels: {severity: high, service: demo}
""")


def set_metrics(up, latency=0.1):
    tmp = os.path.join(textdir, ".demo.prom.tmp")
    with open(tmp, "w") as f:
        f.write(f"demo_up {up}\ndemo_latency_seconds {latency}\n")
    os.rename(tmp, os.path.join(textdir, "demo.prom"))


KEY1 = "11111111111111111111111111111111"
KEY2 = "22222222222222222222222222222222"
pd_port = vt.free_port()
pd = vt.Emulator(a.source_dir, "pagerduty", "--port", str(pd_port))
PD_URL = f"http://127.0.0.1:{pd_port}/v2/enqueue"
BASE = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
textfile: {{directory: '{textdir}'}}
rule_files: ['{rules}']
"""


def routing(routes="", receivers=""):
    return BASE + f"""
alerting:
  route:
    receiver: pager
    group_by: [alertname, service]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 4h
{routes}
  receivers:
    - name: pager
      pagerduty_configs: [{{routing_key: '{KEY1}', url: '{PD_URL}'}}]
{receivers}
"""


ROUTING_A = routing()
# B adds a route for high severity to a second receiver; the P0 route is unchanged.
ROUTING_B = routing(routes="""    routes:
      - {matchers: ['severity="high"'], receiver: oncall}""",
                    receivers=f"""    - name: oncall
      pagerduty_configs: [{{routing_key: '{KEY2}', url: '{PD_URL}'}}]""")
BROKEN = ROUTING_B.replace("receiver: oncall", "receiver: nobody")


def events(action=None, key=None, alertname=None):
    out = []
    for e in json.loads(vt.get(pd.url + "/_events")[2]):
        ev = e["event"]
        if action and ev["event_action"] != action:
            continue
        if key and ev["routing_key"] != key:
            continue
        if alertname and alertname not in ev.get("payload", {}).get("summary", "") + json.dumps(
                ev.get("payload", {}).get("custom_details", {})):
            continue
        out.append(e)
    return out


def firing(v, name):
    body = json.loads(vt.get(v.url + "/api/v1/alerts")[2])["data"]["alerts"]
    return [x for x in body if x["labels"].get("alertname") == name and x["state"] == "firing"]


def reload_ok(v):
    f = vt.parse_exposition(v.metrics()).get("vigil_config_last_reload_successful")
    return next(iter(f["samples"].values())) if f else None


v = None
with vt.running(lambda: v, lambda: pd.stop(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    # 1. The P0 pages once.
    set_metrics(up=0)
    v = vt.Vigil(a.vigil, ROUTING_A, data_dir=data_dir)
    v.wait_ready()
    vt.wait_until(lambda: events("trigger", KEY1), timeout=15, what="the first page")
    time.sleep(2)
    c.check("one page while the alert fires", len(events("trigger", KEY1)) == 1, events())

    # 2. A restart while it fires: the log says it was paged; nothing is repeated.
    v.stop()
    v = vt.Vigil(a.vigil, ROUTING_A, data_dir=data_dir)
    v.wait_ready()
    vt.wait_until(lambda: firing(v, "DemoDown"), timeout=15, what="DemoDown firing after the restart")
    time.sleep(4)  # four evaluations and flushes
    c.check("no second page after a restart (the notification log survived)",
            len(events("trigger", KEY1)) == 1, [e["event"]["event_action"] for e in events()])

    # 3. It resolves while vigil is down: the resolve still goes out after the start.
    v.stop()
    set_metrics(up=1)
    v = vt.Vigil(a.vigil, ROUTING_A, data_dir=data_dir)
    v.wait_ready()
    c.check("the resolve of an alert that ended while vigil was down is sent",
            vt.wait_until(lambda: events("resolve", KEY1), timeout=20, what="resolve"))
    dedup = events("trigger", KEY1)[0]["event"]["dedup_key"]
    c.check("the resolve carries the page's dedup_key", events("resolve", KEY1)[0]["event"]["dedup_key"] == dedup)

    # 4. It fires again, then a reload adds a route: the P0 is not paged twice,
    #    and the new route takes the high-severity alert to its new receiver.
    set_metrics(up=0)
    vt.wait_until(lambda: len(events("trigger", KEY1)) == 2, timeout=15, what="the second page")
    v.write_config(ROUTING_B)
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: "configuration reloaded" in v.logs(), timeout=10, what="reload")
    set_metrics(up=0, latency=5)
    c.check("after the reload the new route's receiver gets the high alert",
            vt.wait_until(lambda: events("trigger", KEY2), timeout=15, what="page to the new receiver"))
    time.sleep(2)
    c.check("the reload did not re-page the P0 that was already paged", len(events("trigger", KEY1)) == 2,
            len(events("trigger", KEY1)))
    c.check("the high alert went only to the new route", all("DemoSlow" not in json.dumps(e["event"])
                                                             for e in events("trigger", KEY1)))

    # 5. A broken alerting section on SIGHUP is refused; routing goes on as before.
    v.write_config(BROKEN)
    v.proc.send_signal(signal.SIGHUP)
    vt.wait_until(lambda: reload_ok(v) == 0, timeout=10, what="the failed reload in the metrics")
    c.check("the refused reload names the unknown receiver", "nobody" in v.logs(), v.logs()[-1500:])
    set_metrics(up=1, latency=0.1)
    c.check("the running routing still sends resolves to both receivers",
            vt.wait_until(lambda: len(events("resolve", KEY1)) == 2 and events("resolve", KEY2), timeout=15,
                          what="resolves after the refused reload"))
    c.check("no routing key in the log", KEY1 not in v.logs() and KEY2 not in v.logs())
c.finish()
