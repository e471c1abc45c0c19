"""The few WeCom 微信客服 (kf) endpoints the channel needs, over aiohttp.

wechatpy 1.8 (the PyPI release) has no kf module, so these calls are made
directly; crypto still comes from wechatpy.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from kefu.clients.media_download import Downloaded, is_json_answer, read_limited

TOKEN_ERRORS = {40014, 42001}


class WeComAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeCom API error {errcode}: {errmsg}")
        self.errcode = errcode


class WeComAPI:
    def __init__(self, base_url: str, corpid: str, secret: str, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.corpid = corpid
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def _token_for(self, session: aiohttp.ClientSession, force: bool) -> str:
        async with self._lock:
            if force or not self._token or time.time() > self._expires - 300:
                async with session.get(
                    f"{self.base_url}/cgi-bin/gettoken", params={"corpid": self.corpid, "corpsecret": self.secret}
                ) as resp:
                    body = await resp.json(content_type=None)
                if "access_token" not in body:
                    raise WeComAPIError(int(body.get("errcode", -1)), str(body.get("errmsg", "")))
                self._token = body["access_token"]
                self._expires = time.time() + int(body.get("expires_in", 7200))
            return self._token

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a kf endpoint; one token refresh on token errors."""
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            for attempt in range(2):
                token = await self._token_for(session, force=attempt > 0)
                async with session.post(
                    f"{self.base_url}{path}",
                    params={"access_token": token},
                    data=json.dumps(payload, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    body = await resp.json(content_type=None)
                code = int(body.get("errcode", 0))
                if code == 0:
                    return body
                if code in TOKEN_ERRORS and attempt == 0:
                    continue
                raise WeComAPIError(code, str(body.get("errmsg", "")))
        raise AssertionError("unreachable")

    async def sync_msg(self, open_kfid: str, cursor: str, token: str) -> dict[str, Any]:
        payload = {"cursor": cursor, "token": token, "limit": 1000, "open_kfid": open_kfid}
        return await self.call("/cgi-bin/kf/sync_msg", payload)

    async def send_text(self, open_kfid: str, external_userid: str, content: str) -> None:
        await self.call(
            "/cgi-bin/kf/send_msg",
            {"touser": external_userid, "open_kfid": open_kfid, "msgtype": "text", "text": {"content": content}},
        )

    async def transfer(self, open_kfid: str, external_userid: str, service_state: int) -> None:
        await self.call(
            "/cgi-bin/kf/service_state/trans",
            {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": service_state},
        )

    async def download_media(self, media_id: str, max_bytes: int, timeout: float = 60) -> Downloaded:
        """GET /cgi-bin/media/get for a customer's image/voice/video/file; one
        token refresh on token errors."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            for attempt in range(2):
                token = await self._token_for(session, force=attempt > 0)
                async with session.get(
                    f"{self.base_url}/cgi-bin/media/get", params={"access_token": token, "media_id": media_id}
                ) as resp:
                    if not is_json_answer(resp):
                        return Downloaded(await read_limited(resp, max_bytes), resp.headers.get("Content-Type", ""))
                    body = await resp.json(content_type=None)
                code = int(body.get("errcode", -1))
                if code in TOKEN_ERRORS and attempt == 0:
                    continue
                raise WeComAPIError(code, str(body.get("errmsg", "")))
        raise AssertionError("unreachable")
