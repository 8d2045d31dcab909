#!/usr/bin/env python3
"""Emulated bitcoind JSON-RPC (Bitcoin Core 27 shapes) with cookie auth.

--cookie-file PATH: writes __cookie__:<random> there at start, like bitcoind;
POST /_rotate_cookie writes a new one (what a bitcoind restart does).
--user/--password: fixed credentials instead.
Scenarios (POST /_scenario {"mode": ...}): ok, ibd, stalled_tip,
headers_ahead, zero_peers, warming_up (error -28), plus the common failure
modes of emulator.py.
"""
import base64
import json
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulator  # noqa: E402

TIP = 850000


def write_cookie(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("__cookie__:" + secrets.token_hex(32))
    os.replace(tmp, path)


def results(mode, sc):
    now = int(time.time())
    blocks = int(sc.get("blocks", TIP))
    chain = {
        "chain": "main", "blocks": blocks, "headers": blocks, "bestblockhash": "00" * 32,
        "difficulty": 1.0, "time": now - 300, "mediantime": now - 3000, "verificationprogress": 0.9999998,
        "initialblockdownload": False, "chainwork": "00" * 32, "size_on_disk": 650_000_000_000,
        "pruned": False, "warnings": "",
    }
    network = {
        "version": 270000, "subversion": "/Satoshi:27.0.0/", "protocolversion": 70016, "networkactive": True,
        "connections": 10, "connections_in": 2, "connections_out": 8, "relayfee": 0.00001, "warnings": "",
    }
    mempool = {
        "loaded": True, "size": 2500, "bytes": 1_200_000, "usage": 5_000_000, "total_fee": 0.1,
        "maxmempool": 300_000_000, "mempoolminfee": 0.00001, "minrelaytxfee": 0.00001, "unbroadcastcount": 0,
    }
    peers = [{"id": i, "addr": f"10.0.0.{i}:8333", "inbound": i < 2, "synced_blocks": blocks} for i in range(10)]
    if mode == "ibd":
        chain.update(blocks=400000, headers=TIP, initialblockdownload=True, verificationprogress=0.31,
                     time=now - 5 * 365 * 86400)
    elif mode == "stalled_tip":
        chain.update(time=now - 4 * 3600)
    elif mode == "headers_ahead":
        chain.update(headers=blocks + 12)
    elif mode == "zero_peers":
        network.update(connections=0, connections_in=0, connections_out=0)
        peers = []
    if sc.get("warnings"):
        chain["warnings"] = sc["warnings"]
    return {"getblockchaininfo": chain, "getnetworkinfo": network, "getmempoolinfo": mempool, "getpeerinfo": peers}


class BitcoindHandler(emulator.Handler):
    @classmethod
    def setup_peer(cls, args):
        if args.cookie_file:
            write_cookie(args.cookie_file)

    def authorized(self):
        a = self.args
        if a.cookie_file:
            with open(a.cookie_file) as f:
                expected = f.read().strip()
        elif a.user:
            expected = f"{a.user}:{a.password}"
        else:
            return True
        got = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(expected.encode()).decode()
        return secrets.compare_digest(got, want)

    def do_GET(self):
        if not self.control():
            self.send(405, "JSONRPC server handles only POST requests", "text/plain")

    def do_POST(self):
        if self.path == "/_rotate_cookie" and self.args.cookie_file:
            write_cookie(self.args.cookie_file)
            self.send(200, "{}")
            return
        if self.control():
            return
        if not self.authorized():
            self.read_body()
            self.send(401, "", "text/plain", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        req = emulator.jsonrpc_request(self)
        if req is None:
            self.send(500, json.dumps({"result": None, "error": {"code": -32700, "message": "Parse error"}, "id": None}))
            return
        rid, method, _params, _version = req
        self.state.record(method)
        sc = self.state.get()
        mode = sc.get("mode", "ok")
        table = results(mode, sc)
        normal = json.dumps({"result": table.get(method), "error": None, "id": rid})
        # bitcoind answers RPC errors as JSON-RPC 1.0 objects with HTTP 500.
        if self.failure(sc, normal, rid, "1.0"):
            return
        if mode == "warming_up":
            err = {"code": -28, "message": "Loading block index…"}
            self.send(500, json.dumps({"result": None, "error": err, "id": rid}))
            return
        if method not in table:
            err = {"code": -32601, "message": "Method not found"}
            self.send(404, json.dumps({"result": None, "error": err, "id": rid}))
            return
        self.send(200, normal)


if __name__ == "__main__":
    sys.exit(emulator.serve(BitcoindHandler, __doc__, [
        (["--cookie-file"], {"default": ""}),
        (["--user"], {"default": ""}),
        (["--password"], {"default": ""}),
    ]))
