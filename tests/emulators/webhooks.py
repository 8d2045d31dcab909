#!/usr/bin/env python3
"""Emulated webhook consumers, each checking requests against its documented
schema and recording the accepted ones (GET /_events):

- Slack incoming webhooks: POST /services/<T>/<B>/<secret>, JSON with a
  non-empty `text` (the notification fallback), optional `channel`, `blocks`
  (at most 50) and `attachments` (at most 100; `color` a #rrggbb hex or
  good|warning|danger, their `blocks` checked too). Blocks: `header`
  (plain_text, at most 150 characters), `section` (text at most 3000,
  mrkdwn|plain_text; fields at most 10 of 2000), `context`, `divider`.
  Slack's answers: 200 "ok"; 400 "invalid_payload" / "no_text" /
  "invalid_blocks"; 404 "no_service" for a wrong secret (--slack-secret).
  Scenario {"mode": "slow", "delay": S} answers Slack requests S seconds late.
- Alertmanager's webhook, version 4: POST /alertmanager, the JSON payload
  Alertmanager's webhook_config sends (version "4", groupKey,
  truncatedAlerts, status firing|resolved, receiver, groupLabels,
  commonLabels, commonAnnotations, externalURL, alerts with status, labels,
  annotations, startsAt/endsAt RFC 3339, generatorURL, fingerprint).
  200 on success, 400 with the reasons.
"""
import datetime
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulator  # noqa: E402

HEX_COLOUR = re.compile(r"^#?[0-9a-fA-F]{6}$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def rfc3339(s):
    try:
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        return True
    except (TypeError, ValueError, AttributeError):
        return False


def check_text_object(t, where, max_len, errors):
    if not isinstance(t, dict) or t.get("type") not in ("mrkdwn", "plain_text"):
        errors.append(f"{where}: text object needs type mrkdwn|plain_text")
        return
    if not isinstance(t.get("text"), str) or not 1 <= len(t["text"]) <= max_len:
        errors.append(f"{where}: text must be 1-{max_len} characters")


def check_blocks(blocks, where, errors):
    if not isinstance(blocks, list) or len(blocks) > 50:
        errors.append(f"{where}: at most 50 blocks")
        return
    for i, b in enumerate(blocks):
        w = f"{where}[{i}]"
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "header":
            t = b.get("text")
            if not isinstance(t, dict) or t.get("type") != "plain_text":
                errors.append(f"{w}: header text must be plain_text")
            else:
                check_text_object(t, w, 150, errors)
        elif kind == "section":
            if "text" not in b and "fields" not in b:
                errors.append(f"{w}: section needs text or fields")
            if "text" in b:
                check_text_object(b["text"], w, 3000, errors)
            fields = b.get("fields", [])
            if not isinstance(fields, list) or len(fields) > 10:
                errors.append(f"{w}: at most 10 fields")
            else:
                for j, f in enumerate(fields):
                    check_text_object(f, f"{w}.fields[{j}]", 2000, errors)
        elif kind == "context":
            elements = b.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                errors.append(f"{w}: context needs 1-10 elements")
        elif kind != "divider":
            errors.append(f"{w}: unknown block type {kind!r}")


def check_slack(m):
    errors = []
    if not isinstance(m, dict):
        return ["invalid_payload"]
    if not isinstance(m.get("text"), str) or not m["text"].strip():
        errors.append("no_text")
    if "channel" in m and (not isinstance(m["channel"], str) or not m["channel"]):
        errors.append("channel must be a non-empty string")
    if "blocks" in m:
        check_blocks(m["blocks"], "blocks", errors)
    attachments = m.get("attachments", [])
    if not isinstance(attachments, list) or len(attachments) > 100:
        errors.append("at most 100 attachments")
        attachments = []
    for i, a in enumerate(attachments):
        colour = a.get("color")
        if colour is not None and colour not in ("good", "warning", "danger") and not HEX_COLOUR.match(str(colour)):
            errors.append(f"attachments[{i}].color {colour!r}")
        if "blocks" in a:
            check_blocks(a["blocks"], f"attachments[{i}].blocks", errors)
        elif not a.get("text") and not a.get("fallback"):
            errors.append(f"attachments[{i}] is empty")
    return errors


def check_labels(obj, where, errors):
    if not isinstance(obj, dict):
        errors.append(f"{where} must be an object")
        return
    for k, v in obj.items():
        if not LABEL_NAME.match(k) or not isinstance(v, str):
            errors.append(f"{where}.{k}: bad label")


def check_webhook_v4(m):
    errors = []
    if not isinstance(m, dict):
        return ["body must be an object"]
    if m.get("version") != "4":
        errors.append("version must be \"4\"")
    for k in ("groupKey", "receiver", "externalURL"):
        if not isinstance(m.get(k), str):
            errors.append(f"{k} must be a string")
    if not isinstance(m.get("truncatedAlerts"), int):
        errors.append("truncatedAlerts must be an integer")
    if m.get("status") not in ("firing", "resolved"):
        errors.append("status must be firing|resolved")
    for k in ("groupLabels", "commonLabels", "commonAnnotations"):
        check_labels(m.get(k), k, errors)
    alerts = m.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        return errors + ["alerts must be a non-empty list"]
    for i, a in enumerate(alerts):
        w = f"alerts[{i}]"
        if a.get("status") not in ("firing", "resolved"):
            errors.append(f"{w}.status")
        check_labels(a.get("labels"), f"{w}.labels", errors)
        check_labels(a.get("annotations"), f"{w}.annotations", errors)
        if not rfc3339(a.get("startsAt")) or not rfc3339(a.get("endsAt")):
            errors.append(f"{w}: startsAt/endsAt must be RFC 3339")
        if not isinstance(a.get("generatorURL"), str):
            errors.append(f"{w}.generatorURL")
        if not isinstance(a.get("fingerprint"), str) or not re.match(r"^[0-9a-f]{16}$", a["fingerprint"]):
            errors.append(f"{w}.fingerprint must be 16 hex digits")
        if a.get("status") == "resolved" and a.get("endsAt", "").startswith("0001-"):
            errors.append(f"{w}: a resolved alert needs endsAt")
    if m.get("status") == "firing" and not any(a.get("status") == "firing" for a in alerts):
        errors.append("status firing without a firing alert")
    return errors


class WebhookHandler(emulator.Handler):
    def do_POST(self):
        if self.control():
            return
        body = self.read_body()
        if self.path.startswith("/services/"):
            if self.path.split("/")[-1] != self.args.slack_secret:
                self.send(404, "no_service", "text/plain")
                return
            sc = self.state.get()
            if sc.get("mode") == "slow":  # answers, but late: a slow Slack must not hold up other receivers
                time.sleep(float(sc.get("delay", 5)))
            try:
                m = json.loads(body)
            except ValueError:
                self.send(400, "invalid_payload", "text/plain")
                return
            errors = check_slack(m)
            if errors:
                self.send(400, "invalid_blocks: " + "; ".join(errors), "text/plain")
                return
            self.record_event(kind="slack", data=m)
            self.send(200, "ok", "text/plain")
        elif self.path == "/alertmanager":
            try:
                m = json.loads(body)
            except ValueError:
                self.send(400, json.dumps({"error": "not JSON"}))
                return
            errors = check_webhook_v4(m)
            if errors:
                self.send(400, json.dumps({"error": "; ".join(errors)}))
                return
            self.record_event(kind="webhook", data=m)
            self.send(200, "{}")
        else:
            self.send(404, "{}")


if __name__ == "__main__":
    sys.exit(emulator.serve(WebhookHandler, __doc__, [
        (["--slack-secret"], {"default": "slack-test-secret-0123456789"}),
    ]))
