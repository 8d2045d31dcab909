#!/usr/bin/env python3
"""Emulated PagerDuty Events API v2: POST /v2/enqueue, checked against the
documented schema (developer.pagerduty.com, "Send an Alert Event"):
routing_key (32 characters), event_action trigger|acknowledge|resolve,
dedup_key at most 255 characters (required for acknowledge/resolve), and for
trigger a payload with summary (at most 1024 characters), source and severity
critical|error|warning|info; optional timestamp, component, group, class,
custom_details, links, images, client, client_url. A valid event gets 202
{"status":"success","message":"Event processed","dedup_key":…}; an invalid one
400 {"status":"invalid event","message":"Event object is invalid","errors":[…]}.

GET /_events returns the accepted events with their arrival time (unix
seconds). Scenarios (POST /_scenario): ok, http_500, rate_limited (429 with
Retry-After: <retry_after, default 1>), plus the common failure modes.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulator  # noqa: E402

TRIGGER_FIELDS = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
EVENT_FIELDS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}


def validate(e):
    errors = []
    if not isinstance(e, dict):
        return ["event must be an object"]
    for k in e:
        if k not in EVENT_FIELDS:
            errors.append(f"unknown field {k}")
    if not isinstance(e.get("routing_key"), str) or len(e["routing_key"]) != 32:
        errors.append("routing_key must be a 32-character integration key")
    action = e.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action must be trigger, acknowledge or resolve")
    dedup = e.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("dedup_key must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("dedup_key is required for acknowledge and resolve")
    if action == "trigger":
        p = e.get("payload")
        if not isinstance(p, dict):
            errors.append("payload is required for trigger")
        else:
            for k in p:
                if k not in TRIGGER_FIELDS:
                    errors.append(f"unknown payload field {k}")
            if not isinstance(p.get("summary"), str) or not p["summary"] or len(p["summary"]) > 1024:
                errors.append("payload.summary must be 1-1024 characters")
            if not isinstance(p.get("source"), str) or not p["source"]:
                errors.append("payload.source is required")
            if p.get("severity") not in ("critical", "error", "warning", "info"):
                errors.append("payload.severity must be critical, error, warning or info")
    return errors


class PagerDutyHandler(emulator.Handler):
    def do_POST(self):
        if self.control():
            return
        if self.path != "/v2/enqueue":
            self.send(404, json.dumps({"status": "not found"}))
            return
        sc = self.state.get()
        body = self.read_body()
        if sc.get("mode") == "rate_limited":
            self.send(429, json.dumps({"status": "throttle event", "message": "Requests for this service are arriving too quickly"}),
                      headers={"Retry-After": str(sc.get("retry_after", 1))})
            return
        try:
            event = json.loads(body)
        except ValueError:
            self.send(400, json.dumps({"status": "invalid event", "message": "Event object is invalid",
                                       "errors": ["body is not JSON"]}))
            return
        errors = validate(event)
        if errors:
            self.send(400, json.dumps({"status": "invalid event", "message": "Event object is invalid",
                                       "errors": errors}))
            return
        ok = json.dumps({"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key", "")})
        if self.failure(sc, ok):
            return
        self.record_event(event=event)
        self.send(202, ok)


if __name__ == "__main__":
    sys.exit(emulator.serve(PagerDutyHandler, __doc__))
