"""The WeChat official-account 客服消息 API: access token, text sending, and
downloading what customers send (media/get)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from kefu.clients.media_download import Downloaded, is_json_answer, read_limited

TOKEN_ERRORS = {40001, 40014, 42001}  # invalid / expired access token
OUTSIDE_WINDOW = 45015  # user silent for more than 48 hours


class WeChatAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPI:
    def __init__(self, base_url: str, appid: str, secret: str, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def _get(self, session: aiohttp.ClientSession, path: str, **params: Any) -> dict:
        async with session.get(f"{self.base_url}{path}", params=params) as resp:
            return await resp.json(content_type=None)

    async def access_token(self, session: aiohttp.ClientSession, force: bool = False) -> str:
        async with self._token_lock:
            # Refresh five minutes early so a token never expires mid-call.
            if force or not self._token or time.time() > self._token_expires - 300:
                body = await self._get(
                    session, "/cgi-bin/token", grant_type="client_credential", appid=self.appid, secret=self.secret
                )
                if "access_token" not in body:
                    raise WeChatAPIError(int(body.get("errcode", -1)), str(body.get("errmsg", "")))
                self._token = body["access_token"]
                self._token_expires = time.time() + int(body.get("expires_in", 7200))
            return self._token

    async def send_text(self, openid: str, content: str) -> None:
        """POST /cgi-bin/message/custom/send; one token refresh on token errors."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            for attempt in range(2):
                token = await self.access_token(session, force=attempt > 0)
                # As wechatpy does: raw UTF-8, not \\u escapes.
                async with session.post(
                    f"{self.base_url}/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    data=json.dumps(payload, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    body = await resp.json(content_type=None)
                code = int(body.get("errcode", 0))
                if code == 0:
                    return
                if code in TOKEN_ERRORS and attempt == 0:
                    continue
                raise WeChatAPIError(code, str(body.get("errmsg", "")))

    async def download_media(self, media_id: str, max_bytes: int, timeout: float = 60) -> Downloaded:
        """GET /cgi-bin/media/get for a customer's image/voice/video; one
        token refresh on token errors. A video may come back as a link."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            for attempt in range(2):
                token = await self.access_token(session, force=attempt > 0)
                async with session.get(
                    f"{self.base_url}/cgi-bin/media/get", params={"access_token": token, "media_id": media_id}
                ) as resp:
                    if not is_json_answer(resp):
                        return Downloaded(await read_limited(resp, max_bytes), resp.headers.get("Content-Type", ""))
                    body = await resp.json(content_type=None)
                if body.get("video_url"):
                    return Downloaded(None, "video/mp4", str(body["video_url"]))
                code = int(body.get("errcode", -1))
                if code in TOKEN_ERRORS and attempt == 0:
                    continue
                raise WeChatAPIError(code, str(body.get("errmsg", "")))
        raise AssertionError("unreachable")
