"""A local stand-in for the TOP gateway (/router/rest), on loopback.

Checks every call's signature like the real gateway and records what was
sent. Methods: the chat robot send (any method ending in `chatrobot.async`),
`taobao.tmc.messages.consume` and `taobao.tmc.messages.confirm`.
Run alone (`python tests/support/fake_top_api.py --port N`) for the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project root, when run alone
from kefu.clients.top_sign import verify_top_sign  # noqa: E402


class FakeTopAPI:
    """Buyer names steer behaviour: `refuse-` -> error_response (nothing sent);
    `isp-` -> delivered, then an isp.* error (the platform failed after acting);
    `bad-gateway-` -> HTTP 502 with an HTML page."""

    def __init__(self, secret: str = "top-secret", delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.sent: list[dict] = []
        self.calls: list[dict] = []
        self.per_receiver: dict[str, int] = {}
        self.bad_signatures = 0
        self.tmc_queue: list[dict] = []  # messages not yet confirmed
        self.tmc_confirmed: list[str] = []
        self.tmc_consumes = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None

    # -- in a thread, for tests -------------------------------------------------
    def start(self) -> FakeTopAPI:
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.serve("127.0.0.1", 0))
        self._ready.set()
        self._loop.run_forever()

    async def serve(self, host: str, port: int) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/router/rest", self.rest)
        app.router.add_get("/stats", self.stats)
        app.router.add_get("/pic/{name}", self.picture)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_port=True)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}/router/rest"

    def picture_url(self, name: str) -> str:
        """Where a buyer's picture `name` is served (the image CDN's stand-in)."""
        return self.url.removesuffix("/router/rest") + f"/pic/{name}"

    def sent_to(self, buyer: str) -> list[dict]:
        return [m for m in self.sent if buyer in m["receivers"]]

    def calls_to(self, buyer: str) -> list[dict]:
        """Every chat-robot call naming buyer, answered or not."""
        return [m for m in self.calls if buyer in m["receivers"]]

    def push_tmc(self, topic: str, content: dict, pub_time: str = "2026-11-26 10:00:00") -> str:
        msg_id = str(len(self.tmc_queue) + len(self.tmc_confirmed) + 1)
        self.tmc_queue.append(
            {"id": msg_id, "topic": topic, "pub_time": pub_time, "content": json.dumps(content, ensure_ascii=False)}
        )
        return msg_id

    # -- handlers -------------------------------------------------------------------
    async def picture(self, request: web.Request) -> web.Response:
        """A buyer's picture on the image CDN: `png-…` a real PNG, `html-…` a page posing as one."""
        from tests.support.media import png_bytes

        name = request.match_info["name"]
        if name.startswith("png-"):
            return web.Response(body=png_bytes(), content_type="image/png")
        if name.startswith("html-"):
            return web.Response(body=b"<html><script>alert(1)</script></html>", content_type="image/jpeg")
        return web.Response(status=404)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "sent": len(self.sent),
                "receivers": len(self.per_receiver),
                "duplicates": sum(n - 1 for n in self.per_receiver.values() if n > 1),
                "bad_signatures": self.bad_signatures,
            }
        )

    async def rest(self, request: web.Request) -> web.Response:
        params: dict[str, str] = dict(parse_qsl((await request.read()).decode()))
        if not verify_top_sign(params, self.secret):
            self.bad_signatures += 1
            return web.json_response({"error_response": {"code": 25, "msg": "Invalid signature"}})
        method = params.get("method", "")
        if self.delay:
            await asyncio.sleep(self.delay)
        if method.endswith("chatrobot.async"):
            receivers = [r.get("nick") or r.get("open_uid") for r in json.loads(params.get("receivers", "[]"))]
            # Every call, whatever the answer: a re-send after a 502 must be seen.
            self.calls.append({"receivers": receivers, "content": params.get("content", "")})
            if any(str(r).startswith("bad-gateway-") for r in receivers):
                return web.Response(status=502, text="<html>502 Bad Gateway</html>", content_type="text/html")
            if any(str(r).startswith("isp-") for r in receivers):
                self.sent.append(
                    {
                        "receivers": receivers,
                        "content": params.get("content", ""),
                        "seller_nick": params.get("seller_nick", ""),
                        "app_key": params.get("app_key"),
                    }
                )
                return web.json_response(
                    {
                        "error_response": {
                            "code": 15,
                            "msg": "Remote service error",
                            "sub_code": "isp.remote-service-timeout",
                            "sub_msg": "remote service timed out",
                        }
                    }
                )
            if any(str(r).startswith("refuse-") for r in receivers):
                return web.json_response(
                    {
                        "error_response": {
                            "code": 15,
                            "msg": "Remote service error",
                            "sub_code": "isv.buyer-refused",
                            "sub_msg": "buyer does not accept robot messages",
                        }
                    }
                )
            for receiver in receivers:
                self.per_receiver[receiver] = self.per_receiver.get(receiver, 0) + 1
            self.sent.append(
                {
                    "receivers": receivers,
                    "content": params.get("content", ""),
                    "seller_nick": params.get("seller_nick", ""),
                    "app_key": params.get("app_key"),
                }
            )
            return web.json_response({"result": {"success": True, "task_id": str(len(self.sent))}})
        if method == "taobao.tmc.messages.consume":
            self.tmc_consumes += 1
            quantity = int(params.get("quantity") or 100)
            return web.json_response({"messages": self.tmc_queue[:quantity]})
        if method == "taobao.tmc.messages.confirm":
            ids = set(str(params.get("s_message_ids", "")).split(","))
            self.tmc_confirmed += [m["id"] for m in self.tmc_queue if m["id"] in ids]
            self.tmc_queue = [m for m in self.tmc_queue if m["id"] not in ids]
            return web.json_response({"is_success": True})
        return web.json_response({"error_response": {"code": 22, "msg": f"Invalid method {method}"}})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", default="top-secret")
    args = parser.parse_args()
    fake = FakeTopAPI(args.secret)
    try:
        import uvloop  # installed with Rasa's sanic; the fake must not be the bottleneck

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    loop.run_until_complete(fake.serve("127.0.0.1", args.port))
    print(fake.url, flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
