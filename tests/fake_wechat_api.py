"""A local stand-in for api.weixin.qq.com (token and 客服消息), on loopback."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import List

from aiohttp import web


class FakeWeChatAPI:
    """Records every 客服消息 call. Behaviour by openid prefix:
    `window-` -> 45015 (outside the 48 h window); `stale-` -> 40001 for the
    token of the first call, success once a refreshed token is used."""

    def __init__(self) -> None:
        self.sent: List[dict] = []
        self.token_requests = 0
        self._stale_tokens: dict = {}
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "FakeWeChatAPI":
        self._thread.start()
        self._ready.wait(10)
        return self

    def sent_to(self, openid: str) -> List[dict]:
        return [call for call in self.sent if call["body"]["touser"] == openid]

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        return web.json_response({"access_token": f"TOKEN{self.token_requests}", "expires_in": 7200})

    async def send(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        token = request.query.get("access_token")
        self.sent.append({"token": token, "body": body})
        touser = body["touser"]
        if touser.startswith("window-"):
            return web.json_response({"errcode": 45015, "errmsg": "response out of time limit"})
        if touser.startswith("stale-"):
            # The token of the first call to this user counts as expired.
            stale = self._stale_tokens.setdefault(touser, token)
            if token == stale:
                return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.token)
        app.router.add_post("/cgi-bin/message/custom/send", self.send)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
