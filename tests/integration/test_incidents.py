"""Incidents with MTTD and MTTR against a real, private `systemd --user`: a
chain of three units (leaf BindsTo mid BindsTo root; in vigil's config
leaf depends_on mid depends_on root). The test kills the root (its
dependents go down with it), a webhook receiver records when the page
arrives, and the test starts the root and the chain again later. vigil must
file exactly one incident rooted at the root with its two dependents, a
timeline in order, MTTD equal to the test's kill -> webhook receipt and MTTR
equal to kill -> root active again, both within 100 ms. Also `vigil
incidents` (list, show, --json, --format md), GET /api/v1/incidents[/<id>]
with ?format=md and the charts' data, the id kept across a vigil restart,
and every bad input."""
import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error

import vigiltest as vt

a = vt.args()
c = vt.Checks()

work = tempfile.mkdtemp(prefix="vigil-incidents.")
sleeper = os.path.join(work, "vt-inc-sleeper")  # its own name, so no other test counting sleepers sees these
shutil.copy("/bin/sleep", sleeper)
UNITS = {
    "vt-inc-root.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n",
    "vt-inc-mid.service": f"[Unit]\nBindsTo=vt-inc-root.service\nAfter=vt-inc-root.service\n"
                          f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n",
    "vt-inc-leaf.service": f"[Unit]\nBindsTo=vt-inc-mid.service\nAfter=vt-inc-mid.service\n"
                           f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n",
}
sd = vt.user_systemd_or_skip(UNITS, work)
systemctl = sd.systemctl

received = []  # (time the test's receiver got it, payload)


class Hook(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        at = time.time()
        received.append((at, json.loads(body)))
        self.send_response(200)
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: incidents
    interval: 100ms
    rules:
      - alert: ServiceDown
        expr: vigil_service_up == 0
        for: 0s
        labels: {severity: critical}
""")
CONFIG = f"""
global: {{scrape_interval: 100ms}}
host: {{enabled: false}}
systemd: {{bus: user}}
rule_files: ['{rules}']
services:
  root: {{unit: vt-inc-root.service}}
  mid: {{unit: vt-inc-mid.service, depends_on: [root]}}
  leaf: {{unit: vt-inc-leaf.service, depends_on: [mid]}}
alerting:
  route: {{receiver: hook, group_by: [alertname, service], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}
  receivers:
    - name: hook
      webhook_configs: [{{url: 'http://127.0.0.1:{port}/hook', send_resolved: true}}]
"""


def cli(*args):
    return vt.cli(a.vigil, *args)


def api_incidents(v, path="", **params):
    q = "&".join(f"{k}={val}" for k, val in params.items())
    body = json.loads(vt.get(v.url + "/api/v1/incidents" + path + ("?" + q if q else ""))[2])
    assert body["status"] == "success", body
    return body["data"]


def firing(v):
    body = json.loads(vt.get(v.url + "/api/v1/alerts")[2])
    return {x["labels"].get("service") for x in body["data"]["alerts"] if x["state"] == "firing"}


def active(unit):
    return systemctl("show", unit, "-p", "ActiveState", "--value") == "active"


v = None
with vt.running(lambda: v, lambda: server.shutdown(), lambda: sd.cleanup(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    systemctl("start", "vt-inc-leaf.service")  # pulls in mid and root
    vt.wait_until(lambda: all(active(u) for u in UNITS), timeout=10, what="the chain active")
    data_dir = os.path.join(work, "data")
    config_path = os.path.join(work, "vigil.yml")
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()
    with open(config_path, "w") as f:
        f.write(CONFIG)
    vt.wait_until(lambda: "vigil_service_up" in vt.get(v.url + "/api/v1/query?query=vigil_service_up")[2]
                  and not firing(v), timeout=10, what="the services up and stored")
    time.sleep(1.0)

    root_pid = int(systemctl("show", "vt-inc-root.service", "-p", "MainPID", "--value"))
    killed_at = time.time()
    os.kill(root_pid, signal.SIGKILL)
    vt.wait_until(lambda: any(al["labels"].get("service") == "root" and al["status"] == "firing"
                              for _, p in received for al in p["alerts"]), timeout=10, interval=0.01,
                  what="the root's page at the webhook receiver")
    paged_at = min(t for t, p in received
                   if any(al["labels"].get("service") == "root" and al["status"] == "firing" for al in p["alerts"]))
    vt.wait_until(lambda: firing(v) == {"root", "mid", "leaf"}, timeout=10, what="all three alerts firing")
    time.sleep(2.0)
    t0 = time.time()
    systemctl("start", "vt-inc-root.service")
    t1 = time.time()
    root_up_at = (t0 + t1) / 2  # the unit turns active inside the call
    systemctl("start", "vt-inc-leaf.service")
    vt.wait_until(lambda: not firing(v), timeout=10, what="every alert resolved")
    stopwatch_mttd = paged_at - killed_at
    stopwatch_mttr = root_up_at - killed_at

    def the_incident():
        got = [i for i in api_incidents(v, since="1h") if i["end"] is not None]
        return got[0] if len(got) == 1 else None

    vt.wait_until(the_incident, timeout=15, what="the resolved incident filed")
    listed = api_incidents(v, since="1h")
    c.check("exactly one incident", len(listed) == 1, listed)
    inc = listed[0]
    iid = inc["id"]
    c.check("root = the root unit's service and alert",
            inc["root"] == {"service": "root", "alert": "ServiceDown"}, inc["root"])
    c.check("affected: the root and its two dependents", inc["services"] == ["root", "leaf", "mid"], inc["services"])
    c.check("severity: the highest of its alerts", inc["severity"] == "critical", inc)

    shown = api_incidents(v, f"/{iid}")
    tl = shown["timeline"]
    kinds = [(e["kind"], e["service"]) for e in tl]
    print("timeline:")
    for e in tl:
        print(f"  +{e['offset_seconds']:8.3f}s  {e['text']}")
    c.check("timeline in time order", all(tl[i - 1]["time"] <= tl[i]["time"] for i in range(1, len(tl))), kinds)

    def first(kind, service=None):
        return next((i for i, e in enumerate(tl) if e["kind"] == kind and (service is None or e["service"] == service)),
                    None)

    order = [first("first_evidence"), first("firing", "root"), first("notified", "root"), first("service_up", "root"),
             first("resolution")]
    # A dependent's page can be delivered after the resolution: inhibited while the root was down, it
    # leaves once the root's alert resolves, racing its own resolution. Everything else comes before.
    last_state = max(i for i, e in enumerate(tl) if e["kind"] != "notified")
    c.check("first evidence, firing, notification, root up, resolution in that order",
            None not in order and order == sorted(order) and order[0] == 0 and order[-1] == last_state, order)
    c.check("every alert's pending, firing and resolved on the timeline",
            all(first(k, s) is not None for k in ("pending", "firing", "resolved") for s in ("root", "mid", "leaf")),
            kinds)
    c.check("the dependents' down transitions from the ledger",
            first("service_down", "mid") is not None and first("service_down", "leaf") is not None, kinds)

    # systemd stopped mid and leaf cleanly (BindsTo=): the root's failure took them down, so their
    # downtime is unplanned in the SLA, not an operator's clean stop.
    body = json.loads(vt.get(v.url + f"/api/v1/sla?from={killed_at - 1:.3f}&to={time.time():.3f}")[2])
    ranges = {r["service"]: next(w for w in r["windows"] if w["window"] == "range") for r in body["data"]}
    c.check("the dependents' BindsTo= stops count as unplanned downtime",
            all(ranges[s]["planned_downtime_seconds"] == 0 and ranges[s]["unplanned_downtime_seconds"] >= 1.5 for s in ("mid", "leaf")),
            {s: ranges[s] for s in ("root", "mid", "leaf")})

    mttd, mttr = shown["mttd_seconds"], shown["mttr_seconds"]
    print(f"MTTD: vigil {mttd:.3f}s, stopwatch (kill -> webhook receipt) {stopwatch_mttd:.3f}s, "
          f"difference {abs(mttd - stopwatch_mttd) * 1000:.1f} ms")
    print(f"MTTR: vigil {mttr:.3f}s, stopwatch (kill -> root active again, start call "
          f"{(t1 - t0) * 1000:.1f} ms) {stopwatch_mttr:.3f}s, difference {abs(mttr - stopwatch_mttr) * 1000:.1f} ms")
    c.check("MTTD counts to a delivered notification", shown["mttd_to"] == "notification" and shown["notified"], shown)
    c.check("MTTD equals the stopwatch within 100 ms", abs(mttd - stopwatch_mttd) <= 0.1, (mttd, stopwatch_mttd))
    c.check("MTTR counts to the root service up", shown["mttr_to"] == "service_up", shown)
    c.check("MTTR equals the stopwatch within 100 ms", abs(mttr - stopwatch_mttr) <= 0.1, (mttr, stopwatch_mttr))

    # The post-mortem from the agent, with the services' state series.
    status, _, md = vt.get(v.url + f"/api/v1/incidents/{iid}?format=md")
    c.check("?format=md is a post-mortem with summary, MTTD/MTTR, timeline and charts",
            md.startswith(f"# Incident {iid}: ServiceDown on root") and "## MTTD and MTTR" in md
            and "## Timeline" in md and 'vigil_service_up{service="root"}' in md
            and 'vigil_service_up{service="leaf"}' in md and "| 0 |" in md, md[:3000])
    print(md)

    # The CLI reads state.db offline.
    rc, out, err = cli("incidents", "--data-dir", data_dir, "--config", config_path, "--since", "1h")
    print(out)
    c.check("`vigil incidents` lists it", rc == 0 and f"\n{iid} " in out and "root,leaf,mid" in out, out + err)
    rc, out, err = cli("incidents", "show", str(iid), "--json", "--data-dir", data_dir, "--config", config_path)
    cli_inc = json.loads(out) if rc == 0 else {}
    c.check("`vigil incidents show ID --json` equals the API's",
            cli_inc.get("mttd_seconds") == mttd and cli_inc.get("mttr_seconds") == mttr
            and len(cli_inc.get("timeline", [])) == len(tl), out + err)
    rc, out, err = cli("incidents", "show", str(iid), "--data-dir", data_dir, "--config", config_path)
    print(out)
    c.check("`vigil incidents show ID` prints the timeline", rc == 0 and "first evidence" in out and "MTTD" in out,
            out + err)
    rc, out, err = cli("incidents", "show", str(iid), "--format", "md", "--data-dir", data_dir, "--config", config_path)
    c.check("offline post-mortem says the charts are omitted", rc == 0 and "Omitted" in out and "## Timeline" in out,
            out + err)
    rc, out, err = cli("incidents", "show", str(iid), "--format", "md", "--server", v.url, "--data-dir", data_dir,
                       "--config", config_path)
    c.check("with --server the CLI's post-mortem has the charts' data",
            rc == 0 and 'vigil_service_up{service="mid"}' in out and "| 0 |" in out, out + err)

    # Bad inputs: named, and vigil keeps running.
    for args, want in ((["show", "9999"], "no incident 9999"), (["show", "abc"], "incident id"),
                       (["--since", "soon"], "--since"), (["--from", "20", "--to", "10"], "not before"),
                       (["show", str(iid), "--format", "pdf"], "--format"),
                       (["--data-dir", os.path.join(work, "nowhere")], "no such file")):
        rc, out, err = cli("incidents", *args, *(["--data-dir", data_dir] if "--data-dir" not in args else []))
        c.check(f"`vigil incidents {' '.join(args)}` fails naming {want}", rc != 0 and want in err, (rc, out, err))
    for path, code, want in (("/9999", 404, "no incident 9999"), ("/abc", 400, "incident id"),
                             ("?since=soon", 400, "since"), (f"/{iid}?format=pdf", 400, "format")):
        try:
            vt.get(v.url + "/api/v1/incidents" + path)
            c.check(f"API refuses {path}", False, "answered 200")
        except urllib.error.HTTPError as e:
            body = json.loads(e.read().decode())
            c.check(f"API refuses {path} with {code} naming {want}", e.code == code and want in body["error"], body)

    # Restart vigil: the same id.
    v.stop()
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()
    time.sleep(6)  # a filing pass or more
    again = api_incidents(v, since="1h")
    c.check("after a restart: still one incident, the same id", [i["id"] for i in again] == [iid], again)

    # A malformed row (vigil stopped, so no filing pass rewrites it): an error naming it; the next pass heals it.
    v.stop()
    db = sqlite3.connect(os.path.join(data_dir, "state.db"))
    db.execute("UPDATE incidents SET end_ms = start_ms - 1 WHERE id = ?", (iid,))
    db.commit()
    db.close()
    rc, out, err = cli("incidents", "--data-dir", data_dir, "--since", "1h")
    c.check("a malformed row is an error naming the incident", rc != 0 and f"incident {iid}: end_ms" in err and "before start_ms" in err,
            (rc, out, err))
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data_dir)
    v.wait_ready()

    def ends():
        try:
            return [i["end"] for i in api_incidents(v, since="1h")]
        except urllib.error.HTTPError:  # 500 naming the row, until the pass rewrites it
            return None

    vt.wait_until(lambda: ends() == [inc["end"]], timeout=15, what="the row rewritten by the next filing pass")
    c.check("vigil still answers", vt.get(v.url + "/-/healthy")[0] == 200)

c.finish()
