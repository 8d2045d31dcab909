#!/usr/bin/env python3
"""Emulated titan indexer HTTP API: GET /status and GET /tip.

Scenario fields (POST /_scenario): height (default 850000), is_at_tip
(default true), plus the common failure modes of emulator.py.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulator  # noqa: E402


class TitanHandler(emulator.Handler):
    def do_POST(self):
        if not self.control():
            self.send(404, "not found", "text/plain")

    def do_GET(self):
        if self.control():
            return
        self.state.record(self.path)
        sc = self.state.get()
        height = int(sc.get("height", 850000))
        tip = {"height": height, "hash": "00" * 32, "is_at_tip": bool(sc.get("is_at_tip", True))}
        if self.path == "/status":
            body = json.dumps({"block_tip": tip, "runes_count": 123456, "mempool_tx_count": 2400})
        elif self.path == "/tip":
            body = json.dumps({"height": height, "hash": tip["hash"]})
        else:
            self.send(404, "not found", "text/plain")
            return
        if self.failure(sc, body):
            return
        self.send(200, body)


if __name__ == "__main__":
    sys.exit(emulator.serve(TitanHandler, __doc__))
