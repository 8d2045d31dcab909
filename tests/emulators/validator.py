#!/usr/bin/env python3
"""Emulated Arch validator JSON-RPC 2.0: is_node_ready, get_block_count,
get_best_block_hash, get_peers. State-changing methods (start_dkg,
reset_network) are recorded and refused, so tests can assert they were never
called.

Scenario fields (POST /_scenario): height (default 1000), ready (default
true), peers (default 3), plus the common failure modes of emulator.py.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulator  # noqa: E402


class ValidatorHandler(emulator.Handler):
    def do_GET(self):
        if not self.control():
            self.send(405, "POST only", "text/plain")

    def do_POST(self):
        if self.control():
            return
        req = emulator.jsonrpc_request(self)
        if req is None:
            err = {"code": -32700, "message": "Parse error"}
            self.send(200, json.dumps({"jsonrpc": "2.0", "error": err, "id": None}))
            return
        rid, method, _params, _version = req
        self.state.record(method)
        sc = self.state.get()
        results = {
            "is_node_ready": bool(sc.get("ready", True)),
            "get_block_count": int(sc.get("height", 1000)),
            "get_best_block_hash": "ab" * 32,
            "get_peers": [{"peer_id": f"peer{i}"} for i in range(int(sc.get("peers", 3)))],
        }
        normal = json.dumps({"jsonrpc": "2.0", "result": results.get(method), "id": rid})
        if self.failure(sc, normal, rid, "2.0"):
            return
        if method not in results:
            err = {"code": -32601, "message": "Method not found"}
            self.send(200, json.dumps({"jsonrpc": "2.0", "error": err, "id": rid}))
            return
        self.send(200, normal)


if __name__ == "__main__":
    sys.exit(emulator.serve(ValidatorHandler, __doc__))
