"""The report and the weekly digest (docs/reports.md), end to end: a private
`systemd --user` unit killed for a few seconds (uptime, and a rule that fires
and resolves: the noisiest rules), a backfilled chain disk (a capacity
forecast), a TLS probe of a certificate that expires tomorrow and an update
check against a local releases file (the maintenance reminders). P3 is
routed to a receiver with Slack (the chat emulator) and email (a real SMTP
server); a digest missed while vigil was down is sent at start, once;
`vigil report --send` sends one now; both emulators receive it, and the test
prints what they got. `vigil report --format md|json`, and bad inputs."""
import email
import email.policy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import vigiltest as vt

a = vt.args()
c = vt.Checks()
GiB = 1024 ** 3
work = tempfile.mkdtemp(prefix="vigil-report.")
sleeper = os.path.join(work, "vt-report-sleeper")
shutil.copy("/bin/sleep", sleeper)
UNITS = {"vt-report-app.service": f"[Service]\nExecStart={sleeper} 1000\nRestart=no\n"}
sd = vt.user_systemd_or_skip(UNITS, work)

# A certificate that expires tomorrow: the SMTP server's, and the TLS probe's file.
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{work}/smtp.key", "-out", f"{work}/smtp.pem", "-days", "1", "-subj", "/CN=127.0.0.1"],
               check=True, capture_output=True, timeout=30)
chat = vt.Emulator(a.source_dir, "chat")
try:
    smtp = vt.Emulator(a.source_dir, "smtp", "--out", f"{work}/mail.jsonl", "--cert", f"{work}/smtp.pem", "--key",
                       f"{work}/smtp.key", "--require-starttls", "--user", "vigil", "--password", "mail-secret",
                       python="/usr/bin/python3", port_arg=False)
except AssertionError as e:
    chat.stop()
    sd.cleanup()
    vt.skip(f"the SMTP server (python3-aiosmtpd) did not start: {e}")

# A releases endpoint (GitHub's releases/latest shape) with a newer version than the installed one.
releases_dir = os.path.join(work, "releases")
os.makedirs(releases_dir)
with open(os.path.join(releases_dir, "latest.json"), "w") as f:
    json.dump({"tag_name": "v27.1", "draft": False, "prerelease": False}, f)
with open(os.path.join(work, "version"), "w") as f:
    f.write("26.0\n")
releases_port = vt.free_port()
releases = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(releases_port),
                             "--directory", releases_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

# 30 days of a chain disk growing 4 GiB/day: a forecast with a recommendation.
data = os.path.join(work, "data")
now = int(time.time())
om = os.path.join(work, "history.om")
with open(om, "w") as f:
    for name in ("node_filesystem_size_bytes", "node_filesystem_avail_bytes"):
        f.write(f"# TYPE {name} gauge\n")
        for h in range(30 * 24 + 1):
            t = now - 30 * 86400 + h * 3600 - 120
            value = 1000 * GiB if name == "node_filesystem_size_bytes" else (1000 - 800 - 4 * h / 24) * GiB
            f.write(f'{name}{{device="/dev/test",fstype="ext4",mountpoint="/mnt/chain"}} {value:.0f} {t}\n')
    f.write("# EOF\n")

rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: report
    interval: 1s
    rules:
      - alert: ReportAppDown
        expr: vigil_service_up{service="app"} == 0
        labels: {severity: warning, service: app}
        annotations: {summary: 'app is down'}
""")

CONFIG = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
host: {{enabled: false}}
systemd: {{bus: user}}
services:
  app:
    unit: vt-report-app.service
    probes: [{{name: cert, type: tls, file: '{work}/smtp.pem'}}]
    updates: {{version_file: '{work}/version', releases: 'http://127.0.0.1:{releases_port}/latest.json', interval: 1s}}
rule_files: ['{rules}']
reports:
  digest: {{schedule: 'Mon 09:00', timezone: UTC, severity: P3}}
alerting:
  route:
    receiver: nobody
    group_wait: 0s
    group_interval: 1s
    routes:
      - {{matchers: ['severity="P3"'], receiver: digest}}
  receivers:
    - name: nobody
    - name: digest
      slack_configs: [{{api_url: '{chat.url}/services/T0/B9/slack-secret-token'}}]
      email_configs: [{{to: 'ops@example.org', from: 'vigil@example.org', smarthost: '127.0.0.1:{smtp.port}',
                        auth_username: vigil, auth_password: mail-secret, tls_insecure_skip_verify: true}}]
"""


def slack_messages():
    return [e["data"]["message"] for e in json.loads(vt.get(chat.url + "/_events")[2]) if e["kind"] == "slack"]


def mails():
    if not os.path.exists(f"{work}/mail.jsonl"):
        return []
    with open(f"{work}/mail.jsonl") as f:
        # As bytes: a str message's 8bit UTF-8 part would be decoded with backslash escapes.
        return [email.message_from_bytes(json.loads(line)["data"].encode(), policy=email.policy.default)
                for line in f]


def mail_text(m):
    part = m.get_body(preferencelist=("plain",))
    return part.get_content().replace("\r\n", "\n") if part else ""


def slack_text(m):
    return m["text"] + "\n" + "\n".join(b["text"]["text"] for at in m.get("attachments", []) for b in at["blocks"])


def status_of(url, method="GET", headers=None):
    """The HTTP status and body of a request, errors included."""
    req = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def vigil(*args):
    return subprocess.run([a.vigil, *args], capture_output=True, text=True, timeout=120)


v = None
with vt.running(lambda: v, lambda: chat.stop(), lambda: smtp.stop(), lambda: vt.stop_process(releases),
                lambda: sd.cleanup(), lambda: shutil.rmtree(work, ignore_errors=True)):
    r = vigil("tsdb", "import", "--data-dir", data, om)
    c.check("history imported", r.returncode == 0, r.stderr[-500:])
    # The last digest went out 8 days ago, before vigil was stopped: the one due since is owed.
    os.makedirs(data, exist_ok=True)
    with sqlite3.connect(os.path.join(data, "state.db")) as db:
        db.execute("CREATE TABLE IF NOT EXISTS report_digest (id INTEGER PRIMARY KEY CHECK (id = 1),"
                   " last_sent_ms INTEGER NOT NULL)")
        db.execute("INSERT OR REPLACE INTO report_digest VALUES (1, ?)", ((now - 8 * 86400) * 1000,))
    sd.systemctl("start", "vt-report-app.service")
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data)
    v.wait_ready()
    vt.wait_until(lambda: len(slack_messages()) >= 1 and len(mails()) >= 1, timeout=30,
                  what="the missed digest on Slack and by email")
    c.check("a digest missed while vigil was down is sent at start, once",
            len(slack_messages()) == 1 and "vigil digest" in slack_text(slack_messages()[0]), slack_messages())

    # Test data: the unit up, down for 3 s, up again; the rule firing and resolving.
    time.sleep(5)
    pid = int(sd.systemctl("show", "vt-report-app.service", "-p", "MainPID", "--value"))
    os.kill(pid, 9)
    vt.wait_until(lambda: vt.api(v.url, "/api/v1/query", query='ALERTS{alertname="ReportAppDown"}')["result"],
                  timeout=15, what="ReportAppDown firing")
    time.sleep(3)
    sd.systemctl("start", "vt-report-app.service")
    # Generous: on a loaded machine the restart, the next collection and the rule's round all queue.
    vt.wait_until(lambda: not vt.api(v.url, "/api/v1/query", query='ALERTS{alertname="ReportAppDown"}')["result"],
                  timeout=40, what="ReportAppDown resolved")
    time.sleep(5)
    # The probe and the update check have run.
    vt.wait_until(lambda: vt.api(v.url, "/api/v1/query", query="vigil_update_available")["result"] and
                  vt.api(v.url, "/api/v1/query", query="vigil_probe_tls_cert_expiry_seconds")["result"],
                  timeout=15, what="the update check and the certificate probe")

    r = vigil("report", "--send", "--server", v.url)
    print(r.stdout.strip())
    c.check("vigil report --send queues the digest for the P3 receiver",
            r.returncode == 0 and r.stdout.startswith("digest queued for digest: vigil digest"), (r.stdout, r.stderr))
    vt.wait_until(lambda: len(slack_messages()) >= 2 and len(mails()) >= 2, timeout=30,
                  what="the digest on Slack and by email")
    slack = slack_text(slack_messages()[1])
    mail = mails()[1]
    body = mail_text(mail)
    print("--- Slack message (text and section) ---\n" + slack)
    print("--- email: Subject: " + str(mail["Subject"]) + " ---\n" + body)
    for name, text in (("Slack", slack), ("email", body)):
        c.check(f"{name}: the uptime table with app below 100%",
                "UPTIME  UNPLANNED" in text and any(line.startswith("app ") and "%" in line and "100.000%" not in line
                                                        for line in text.splitlines()), text)
        c.check(f"{name}: the capacity line for /mnt/chain, UTF-8 intact", "`/mnt/chain` fills in 20 days (20–20)" in text
                or "`/mnt/chain` fills in 21 days (21–21)" in text, text)
        c.check(f"{name}: the certificate expiring tomorrow", "- certificate cert (app) expires" in text and "(in 1 day)" in text, text)
        c.check(f"{name}: the update available", "- app: 27.1 is out (running 26.0)" in text, text)
        c.check(f"{name}: the noisiest rules name ReportAppDown",
                "*Noisiest alert rules*" in text and "- ReportAppDown (warning): fired 1" in text, text)
        c.check(f"{name}: the incidents section lists the outage with MTTD and MTTR",
                "*Incidents*\n- #1 app (ReportAppDown, warning) at " in text and "; MTTD " in text
                and "Mean MTTD " in text and "(target < 2m), mean MTTR " in text, text)
    c.check("email: the subject is the headline", str(mail["Subject"]).startswith("vigil digest") and
            "1 alert fired" in str(mail["Subject"]), mail["Subject"])
    c.check("said as a digest, not as an alert firing",
            slack.startswith("vigil digest for ") and "*Firing*" not in slack and " firing, 0 resolved" not in slack
            and not body.startswith("Firing:"), (slack[:200], body[:200]))
    c.check("no secret in what was sent", "mail-secret" not in body and "slack-secret-token" not in slack)

    # The digest is no alert: not held as firing, not in alert quality.
    held = json.loads(vt.get(v.url + "/api/v2/alerts")[2])
    c.check("the digest is not a firing alert", all(x["labels"].get("alertname") != "VigilWeeklyDigest" for x in held),
            held)
    r = vigil("alerts", "quality", "--data-dir", data, "--json")
    rules_seen = [q["rule"] for q in json.loads(r.stdout)["rules"]] if r.returncode == 0 else r.stderr
    c.check("alert quality counts ReportAppDown, not the digest", rules_seen == ["ReportAppDown"], rules_seen)

    # The report on demand.
    r = vigil("report", "--server", v.url, "--format", "md", "--since", "1h")
    c.check("vigil report --format md prints the Markdown", r.returncode == 0 and r.stdout.startswith("*vigil digest")
            and "*Uptime per service*" in r.stdout, (r.stdout[:300], r.stderr))
    r = vigil("report", "--server", v.url, "--format", "json")
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    c.check("vigil report --format json parses, with the figures",
            r.returncode == 0 and j.get("uptime", [{}])[0].get("service") == "app" and
            j["uptime"][0]["unplanned_seconds"] > 2 and j["capacity"][0]["name"] == "/mnt/chain" and
            j["updates"] == [{"service": "app", "installed": "26.0", "latest": "27.1"}] and
            j["noisiest_rules"][0]["rule"] == "ReportAppDown", r.stdout[:1500])

    # Bad inputs: each names the flag or parameter; vigil runs on.
    r = vigil("report", "--server", v.url, "--from", "last tuesday")
    c.check("bad --from names the flag", r.returncode == 1 and "--from: " in r.stderr, r.stderr)
    r = vigil("report", "--server", v.url, "--format", "html")
    c.check("bad --format names the flag", r.returncode == 1 and "--format: expected md or json, got \"html\"" in
            r.stderr, r.stderr)
    r = vigil("report", "--server", v.url, "--since", "-1d")
    c.check("bad --since names the flag", r.returncode == 1 and "--since: " in r.stderr, r.stderr)
    code, text = status_of(v.url + "/api/v1/report?format=pdf")
    c.check("GET /api/v1/report?format=pdf is a 400 naming format", code == 400 and "format: expected md or json" in
            text, (code, text))
    code, text = status_of(v.url + "/api/v1/report?from=soon")
    c.check("GET /api/v1/report?from=soon is a 400 naming from", code == 400 and "from: " in text, (code, text))
    code, text = status_of(v.url + "/api/v1/report/digest")
    c.check("GET /api/v1/report/digest is a 405", code == 405, (code, text))
    code, text = status_of(v.url + "/api/v1/report/digest", "POST", {"Origin": "http://evil.example"})
    c.check("POST /api/v1/report/digest from another origin is refused (a state-changing route)", code == 403,
            (code, text))
    c.check("vigil is still running", v.proc.poll() is None)

    # A restart right after a digest sends none: the last one is recorded in state.db.
    sent = len(slack_messages())
    v.stop()
    v = vt.Vigil(a.vigil, CONFIG, data_dir=data)
    v.wait_ready()
    time.sleep(3)
    c.check("a restart does not repeat the digest", len(slack_messages()) == sent, len(slack_messages()))
    v.cleanup()
    v = None

    # A bad schedule in the configuration: file:line and why.
    bad = os.path.join(work, "bad.yml")
    with open(bad, "w") as f:
        f.write("reports:\n  digest:\n    schedule: 'Monday 9am'\n    timezone: Mars/Olympus\n")
    r = vigil("check", "config", bad)
    c.check("a bad schedule is a file:line error", r.returncode != 0 and
            f"{bad}:3:" in r.stdout + r.stderr and "reports.digest.schedule" in r.stdout + r.stderr and
            "like \"Mon 09:00\"" in r.stdout + r.stderr, r.stdout + r.stderr)
    c.check("a bad timezone is a file:line error", f"{bad}:4:" in r.stdout + r.stderr and
            "reports.digest.timezone" in r.stdout + r.stderr, r.stdout + r.stderr)

c.finish()
