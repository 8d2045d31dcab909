#!/usr/bin/env python3
"""Emulated chat and SMS receivers, each checking requests against its
documented schema and recording the accepted ones (GET /_events):

- Telegram Bot API: POST /bot<token>/sendMessage, JSON {chat_id, text
  (1-4096 characters), parse_mode HTML|MarkdownV2|Markdown, ...}; the token
  must be --telegram-token (else 401 {"ok":false,"error_code":401}).
- Discord webhooks: POST /api/webhooks/<id>/<token>, JSON {content (at most
  2000), embeds (at most 10; title at most 256, description at most 4096,
  color 0..0xFFFFFF)}; 204 on success.
- Twilio Messages: POST /2010-04-01/Accounts/<sid>/Messages.json, form
  fields To, From, Body (1-1600 characters), basic auth <sid>:--twilio-token;
  201 with a message resource.
- Slack incoming webhooks: POST /services/<T>/<B>/<token>, checked as in
  webhooks.py (which also serves Alertmanager's webhook); any token works
  here. Recorded as {"hook": "<T>/<B>", "message": …}.
Invalid requests get 400 with the reasons.
"""
import base64
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulator  # noqa: E402
import webhooks  # noqa: E402



class ChatHandler(emulator.Handler):
    def do_POST(self):
        if self.control():
            return
        body = self.read_body()
        if self.path.startswith("/bot") and self.path.endswith("/sendMessage"):
            token = self.path[4:-len("/sendMessage")]
            if token != self.args.telegram_token:
                self.send(401, json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}))
                return
            try:
                m = json.loads(body)
            except ValueError:
                self.send(400, json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: not JSON"}))
                return
            errors = []
            if not isinstance(m.get("chat_id"), (str, int)) or m.get("chat_id") == "":
                errors.append("chat_id is required")
            if not isinstance(m.get("text"), str) or not 1 <= len(m["text"]) <= 4096:
                errors.append("text must be 1-4096 characters")
            if m.get("parse_mode") not in (None, "HTML", "MarkdownV2", "Markdown"):
                errors.append("bad parse_mode")
            if errors:
                self.send(400, json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: " + "; ".join(errors)}))
                return
            n = self.record_event(kind="telegram", data=m)
            self.send(200, json.dumps({"ok": True, "result": {"message_id": n, "text": m["text"]}}))
        elif self.path.startswith("/api/webhooks/"):
            try:
                m = json.loads(body)
            except ValueError:
                self.send(400, json.dumps({"message": "Cannot send an empty message", "code": 50006}))
                return
            errors = []
            if len(m.get("content", "") or "") > 2000:
                errors.append("content longer than 2000")
            embeds = m.get("embeds", []) or []
            if len(embeds) > 10:
                errors.append("more than 10 embeds")
            for e in embeds:
                if len(e.get("title", "")) > 256 or len(e.get("description", "")) > 4096:
                    errors.append("embed too long")
                if not isinstance(e.get("color", 0), int) or not 0 <= e.get("color", 0) <= 0xFFFFFF:
                    errors.append("bad color")
            if not m.get("content") and not embeds:
                errors.append("empty message")
            if errors:
                self.send(400, json.dumps({"message": "Invalid Form Body", "errors": errors}))
                return
            self.record_event(kind="discord", data=m)
            self.send(204, "")
        elif self.path.startswith("/2010-04-01/Accounts/") and self.path.endswith("/Messages.json"):
            sid = self.path.split("/")[3]
            auth = self.headers.get("Authorization", "")
            want = "Basic " + base64.b64encode(f"{sid}:{self.args.twilio_token}".encode()).decode()
            if auth != want:
                self.send(401, json.dumps({"code": 20003, "message": "Authenticate", "status": 401}))
                return
            if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                self.send(400, json.dumps({"code": 21601, "message": "expected form fields", "status": 400}))
                return
            f = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            errors = [k for k in ("To", "From", "Body") if not f.get(k)]
            if f.get("Body") and len(f["Body"]) > 1600:
                errors.append("Body longer than 1600")
            if errors:
                self.send(400, json.dumps({"code": 21602, "message": "missing or bad: " + ",".join(errors), "status": 400}))
                return
            self.record_event(kind="twilio", data=f)
            self.send(201, json.dumps({"sid": "SM" + "0" * 32, "status": "queued", "to": f["To"], "from": f["From"],
                                       "body": f["Body"]}))
        elif self.path.startswith("/services/") and len(self.path.split("/")) == 5:
            try:
                m = json.loads(body)
            except ValueError:
                self.send(400, "invalid_payload", "text/plain")
                return
            errors = webhooks.check_slack(m)
            if errors:
                self.send(400, "invalid_blocks: " + "; ".join(errors), "text/plain")
                return
            self.record_event(kind="slack", data={"hook": "/".join(self.path.split("/")[2:4]), "message": m})
            self.send(200, "ok", "text/plain")
        else:
            self.send(404, "{}")


if __name__ == "__main__":
    sys.exit(emulator.serve(ChatHandler, __doc__, [
        (["--telegram-token"], {"default": "123456:ABC-telegram-test-token"}),
        (["--twilio-token"], {"default": "twilio-test-token"}),
    ]))
