"""A local stand-in for api.weixin.qq.com (token and 客服消息), on loopback."""

from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web

from tests.support.media import png_bytes


class FakeWeChatAPI:
    KF_PAGE = 2  # small pages, so the channel must follow has_more

    """Records every 客服消息 call. Behaviour by openid prefix:
    `window-` -> 45015 (outside the 48 h window); `stale-` -> 40001 for the
    token of the first call, success once a refreshed token is used."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.token_requests = 0
        self._stale_tokens: dict = {}
        self.kf_queue: dict = {}
        self.kf_syncs: list[dict] = []
        self.kf_sent: list[dict] = []
        self.kf_transfers: list[dict] = []
        # media/get: media id -> (bytes, Content-Type); `png-…` ids are a real PNG.
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_requests: list[dict] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FakeWeChatAPI:
        self._thread.start()
        self._ready.wait(10)
        return self

    def sent_to(self, openid: str) -> list[dict]:
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

    async def media_get(self, request: web.Request) -> web.Response:
        """WeChat's and WeCom's media/get (same path): the file, or a JSON error."""
        media_id = request.query.get("media_id", "")
        self.media_requests.append({"token": request.query.get("access_token"), "media_id": media_id})
        if media_id.startswith("png-"):
            return web.Response(body=png_bytes(), content_type="image/png")
        if media_id in self.media:
            data, ctype = self.media[media_id]
            return web.Response(body=data, headers={"Content-Type": ctype})
        return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})

    # -- WeCom 微信客服 (same loopback server, other paths) --------------------
    def queue_kf(self, open_kfid: str, item: dict) -> None:
        self.kf_queue.setdefault(open_kfid, []).append({"open_kfid": open_kfid, **item})

    def kf_sent_to(self, external_userid: str) -> list[dict]:
        return [b for b in self.kf_sent if b["touser"] == external_userid]

    async def gettoken(self, request: web.Request) -> web.Response:
        return web.json_response({"errcode": 0, "access_token": "WECOMTOKEN", "expires_in": 7200})

    async def sync_msg(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.kf_syncs.append(body)
        items = self.kf_queue.get(body["open_kfid"], [])
        start = int(body.get("cursor") or 0)
        page = items[start : start + self.KF_PAGE]
        end = start + len(page)
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "next_cursor": str(end),
                "has_more": 1 if end < len(items) else 0,
                "msg_list": page,
            }
        )

    async def kf_send(self, request: web.Request) -> web.Response:
        self.kf_sent.append(json.loads(await request.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": "out"})

    async def kf_trans(self, request: web.Request) -> web.Response:
        self.kf_transfers.append(json.loads(await request.read()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.token)
        app.router.add_post("/cgi-bin/message/custom/send", self.send)
        app.router.add_get("/cgi-bin/media/get", self.media_get)
        app.router.add_get("/cgi-bin/gettoken", self.gettoken)
        app.router.add_post("/cgi-bin/kf/sync_msg", self.sync_msg)
        app.router.add_post("/cgi-bin/kf/send_msg", self.kf_send)
        app.router.add_post("/cgi-bin/kf/service_state/trans", self.kf_trans)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        self._loop.run_forever()
