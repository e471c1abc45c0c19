"""A lean stand-in for the TOP gateway, for the reminder benchmark only.

The real gateway runs on Taobao's machines; here it shares two cores with the
workers and PostgreSQL, so it is a bare asyncio protocol (keep-alive HTTP/1.1,
Content-Length bodies) instead of the aiohttp fake the tests use
(tests/support/fake_top_api.py). It still checks every signature and counts what
each receiver got, so duplicates are seen where they would be: at the platform.

    python bench/fast_top_gateway.py --port N [--secret top-secret]
    GET /stats -> {"sent", "receivers", "duplicates", "bad_signatures"}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kefu.clients.top_sign import verify_top_sign  # noqa: E402

OK = json.dumps({"result": {"success": True}}).encode()
BAD_SIGN = json.dumps({"error_response": {"code": 25, "msg": "Invalid signature"}}).encode()


class Counts:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.sent = 0
        self.bad_signatures = 0
        self.per_receiver: dict[str, int] = {}

    def handle(self, body: bytes) -> bytes:
        params = dict(parse_qsl(body.decode()))
        if not verify_top_sign(params, self.secret):
            self.bad_signatures += 1
            return BAD_SIGN
        self.sent += 1
        for receiver in json.loads(params.get("receivers", "[]")):
            key = receiver.get("nick") or receiver.get("open_uid")
            self.per_receiver[key] = self.per_receiver.get(key, 0) + 1
        return OK

    def stats(self) -> bytes:
        return json.dumps(
            {
                "sent": self.sent,
                "receivers": len(self.per_receiver),
                "duplicates": sum(n - 1 for n in self.per_receiver.values() if n > 1),
                "bad_signatures": self.bad_signatures,
            }
        ).encode()


class Http(asyncio.Protocol):
    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buffer = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            method, path = head[0].split(" ")[:2]
            reply = self.counts.stats() if path.startswith("/stats") else self.counts.handle(body)
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", default="top-secret")
    args = parser.parse_args()
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    counts = Counts(args.secret)
    loop.run_until_complete(loop.create_server(lambda: Http(counts), "127.0.0.1", args.port))
    print(f"http://127.0.0.1:{args.port}/router/rest", flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
