"""Telegram, Discord, Twilio SMS and email (SMTP) receivers end to end:
`vigil run` with rules that fire at once, delivering to an emulator that
checks each request against the service's documented schema. SMS only for
P0/P1 by default; a receiver answering 401 leaves a dead letter; secrets
never reach the log or the API. Custom templates (a template file's
{{define}}s, per-field templates) reach the PagerDuty and Slack emulators
exactly as written; one that fails at render time sends the default text and
is logged."""
import json
import os
import shutil
import subprocess
import tempfile

import vigiltest as vt

a = vt.args()
c = vt.Checks()
TG, TW = "123456:ABC-telegram-test-token", "twilio-test-token"
chat = vt.Emulator(a.source_dir, "chat", "--telegram-token", TG, "--twilio-token", TW)
PD = "0123456789abcdef0123456789abcdef"
pd = vt.Emulator(a.source_dir, "pagerduty")
work = tempfile.mkdtemp(prefix="vigil-receivers.")
# Email: a real SMTP server (aiosmtpd) requiring STARTTLS and AUTH, with a certificate made now.
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", f"{work}/smtp.key", "-out", f"{work}/smtp.pem", "-days", "1", "-subj", "/CN=127.0.0.1"],
               check=True, capture_output=True, timeout=30)
try:
    smtp = vt.Emulator(a.source_dir, "smtp", "--out", f"{work}/mail.jsonl", "--cert", f"{work}/smtp.pem", "--key",
                       f"{work}/smtp.key", "--require-starttls", "--user", "vigil", "--password", "mail-secret",
                       python="/usr/bin/python3", port_arg=False)
except AssertionError as e:
    chat.stop()
    pd.stop()
    vt.skip(f"the SMTP server (python3-aiosmtpd, scripts/setup.sh installs it) did not start: {e}")
rules = os.path.join(work, "rules.yml")
with open(rules, "w") as f:
    f.write("""groups:
  - name: g
    interval: 1s
    rules:
      - alert: NodeDown
        expr: vector(1)
        labels: {severity: critical, service: bitcoind}
        annotations: {summary: 'bitcoind <node> is down', description: 'since boot'}
      - alert: DiskSlow
        expr: vector(2)
        labels: {severity: medium, service: titan}
        annotations: {summary: 'titan disk is slow'}
      - alert: Canary
        expr: vector(3)
        labels: {severity: low}
      - alert: Templated
        expr: vector(4)
        labels: {severity: critical, service: validator}
        annotations: {summary: 'validator RPC is down'}
""")
with open(os.path.join(work, "vigil.tmpl"), "w") as f:
    f.write('{{ define "vigil.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}\n')
# Not an f-string: templates are full of braces.
TEMPLATED = """
    - name: templated
      pagerduty_configs:
        - routing_key: 'PD_KEY'
          url: 'PD_URL/v2/enqueue'
          description: '{{ .CommonLabels.severity | toUpper }}: {{ .CommonAnnotations.summary }} (value {{ range .Alerts }}{{ .Value }}{{ end }}); vigil: {{ .Action }}'
          details: {runbook: 'https://runbooks.example.org/{{ .CommonLabels.alertname }}'}
      slack_configs:
        - api_url: 'CHAT_URL/services/T0/B0/slack-secret-token'
          title: '{{ template "vigil.title" . }}'
          text: '{{ range .Alerts.Firing }}{{ .Annotations.summary }} ({{ .Labels.service }}, since {{ .StartsAt }}){{ end }}'
        - api_url: 'CHAT_URL/services/T0/B1/slack-secret-token'
          text: '{{ .NoSuchField }}'
""".replace("PD_KEY", PD).replace("PD_URL", pd.url).replace("CHAT_URL", chat.url)
CONFIG = f"""
global: {{scrape_interval: 1s}}
host: {{enabled: false}}
rule_files: ['{rules}']
alerting:
  templates: ['{work}/vigil.tmpl']
  route:
    receiver: chat
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    routes:
      - {{matchers: ['alertname="Canary"'], receiver: broken}}
      - {{matchers: ['alertname="Templated"'], receiver: templated}}
  receivers:
    - name: chat
      telegram_configs: [{{bot_token: '{TG}', chat_id: '-100123', api_url: '{chat.url}'}}]
      discord_configs: [{{webhook_url: '{chat.url}/api/webhooks/42/discord-secret'}}]
      twilio_configs: [{{account_sid: 'AC0123', auth_token: '{TW}', from: '+15550001', to: '+15550002', api_url: '{chat.url}'}}]
      email_configs: [{{to: 'ops@example.org, oncall@example.org', from: 'vigil@example.org', smarthost: '127.0.0.1:{smtp.port}',
                        auth_username: vigil, auth_password: mail-secret, tls_insecure_skip_verify: true}}]
    - name: broken
      telegram_configs: [{{bot_token: 'wrong-token', chat_id: '1', api_url: '{chat.url}'}}]
""" + TEMPLATED
v = None
with vt.running(lambda: v, lambda: chat.stop(),
                lambda: pd.stop(),
                lambda: smtp.stop(),
                lambda: shutil.rmtree(work, ignore_errors=True)):
    v = vt.Vigil(a.vigil, CONFIG)
    v.wait_ready()

    def events(kind):
        return [e["data"] for e in json.loads(vt.get(chat.url + "/_events")[2]) if e["kind"] == kind]

    tg = vt.wait_until(lambda: len(events("telegram")) >= 2 and events("telegram"), timeout=20, what="telegram")
    texts = " ".join(m["text"] for m in tg)
    c.check("Telegram: both alerts, HTML-escaped, valid sendMessage", "bitcoind &lt;node&gt; is down" in texts and
            "titan disk is slow" in texts and all(m["parse_mode"] == "HTML" and m["chat_id"] == "-100123" for m in tg),
            texts)
    dc = vt.wait_until(lambda: len(events("discord")) >= 2 and events("discord"), timeout=20, what="discord")
    c.check("Discord: embeds coloured by severity", sorted(e["embeds"][0]["color"] for e in dc) == [0xd00000, 0xf2c744],
            dc)
    sms = vt.wait_until(lambda: events("twilio"), timeout=20, what="twilio")
    c.check("Twilio: one SMS for the P0, none for the P2", len(sms) == 1 and sms[0]["Body"].startswith("P0 ") and
            "bitcoind" in sms[0]["Body"] and len(sms[0]["Body"]) <= 160 and sms[0]["To"] == "+15550002", sms)

    # Custom templates, as the receivers get them.
    def pd_events():
        return [e["event"] for e in json.loads(vt.get(pd.url + "/_events")[2])]

    page = vt.wait_until(lambda: pd_events(), timeout=20, what="templated PagerDuty event")[0]
    c.check("PagerDuty: the description template is the summary, exactly",
            page["payload"]["summary"] == "CRITICAL: validator RPC is down (value 4); vigil: none: a person is needed",
            page["payload"])
    c.check("PagerDuty: a details template is added to custom_details, the defaults stay",
            page["payload"]["custom_details"].get("runbook") == "https://runbooks.example.org/Templated" and
            page["payload"]["custom_details"].get("automatic_action") == "none: a person is needed" and
            page["routing_key"] == PD, page["payload"]["custom_details"])
    slack = vt.wait_until(lambda: len(events("slack")) >= 2 and events("slack"), timeout=20, what="two Slack messages")
    by_hook = {m["hook"]: m["message"] for m in slack}
    good = by_hook.get("T0/B0", {})
    starts_at = page["payload"]["timestamp"]
    c.check("Slack: the title calls a template file's {{define}}, the text template renders exactly",
            good.get("text") == "[FIRING] Templated" and len(good.get("attachments", [])) == 1 and
            good["attachments"][0]["color"] == "#d00000" and
            good["attachments"][0]["blocks"][0]["text"]["text"] ==
            f"validator RPC is down (validator, since {starts_at})", good)
    fallback = by_hook.get("T0/B1", {})
    c.check("Slack: a template failing at render time sends the default text instead",
            fallback.get("text", "").startswith("1 firing, 0 resolved") and
            "validator RPC is down" in json.dumps(fallback.get("attachments")), fallback)
    failed = [line for line in v.logs().splitlines() if "notification template failed" in line]
    c.check("the render failure is logged with receiver, integration and reason",
            failed and "receiver=templated" in failed[0] and "slack[1]" in failed[0] and "NoSuchField" in failed[0],
            failed[:2])

    def mails():
        try:
            with open(f"{work}/mail.jsonl") as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []

    got = vt.wait_until(lambda: len(mails()) >= 2 and mails(), timeout=30, what="two emails")
    m = got[0]
    c.check("email: delivered over STARTTLS with AUTH to both recipients",
            m["tls"] and sorted(m["rcpt_tos"]) == ["oncall@example.org", "ops@example.org"] and
            m["mail_from"] == "vigil@example.org", {k: m[k] for k in ("tls", "rcpt_tos", "mail_from")})
    c.check("email: multipart text and HTML with a subject naming the severity",
            any("Subject: [critical]" in x["data"] for x in got) and "multipart/alternative" in m["data"] and
            "text/html" in m["data"] and "text/plain" in m["data"], m["data"][:600])

    def dead():
        f = vt.parse_exposition(v.metrics()).get("vigil_notifications_dead_letters")
        return f and next(iter(f["samples"].values())) >= 1

    c.check("a 401 (wrong bot token) is a dead letter", vt.wait_until(dead, timeout=20, what="dead letter"))
    history = json.loads(vt.get(v.url + "/api/v1/notifications")[2])["data"]["history"]
    c.check("/api/v1/notifications lists deliveries and the dead letter",
            {"delivered", "dead"} <= {h["outcome"] for h in history}, history[:3])
    # vigil notify test: sends now, through every integration, and reports each answer.
    def notify_test(*args):
        r = subprocess.run([a.vigil, "notify", "test", *args, "--config", v.config], capture_output=True, text=True,
                           timeout=60)
        return r.returncode, r.stdout + r.stderr

    before = len(events("twilio"))
    rc, out = notify_test("chat", "--severity", "critical")
    c.check("notify test: telegram, discord, twilio and email delivered", rc == 0 and out.count("delivered") == 4, out)
    c.check("notify test: the SMS says it is a test", len(events("twilio")) == before + 1 and
            "Test notification" in events("twilio")[-1]["Body"], events("twilio")[-1:])
    rc, out = notify_test("broken")
    c.check("notify test: a rejected one fails with the receiver's answer", rc == 1 and "FAILED: HTTP 401" in out, out)
    rc, out = notify_test("nobody")
    c.check("notify test: an unknown receiver names the configured ones", rc == 1 and "chat, broken" in out, out)
    logs = v.logs() + json.dumps(history) + out
    c.check("no token, password or secret URL in the log or the API",
            TG not in logs and TW not in logs and "wrong-token" not in logs and "discord-secret" not in logs and
            "mail-secret" not in logs and PD not in logs and "slack-secret-token" not in logs)
c.finish()
