"""Calls to the Taobao Open Platform (TOP) gateway: signed form POSTs.

Used by the taobao/tmall channel (robot replies), the reminder worker and
the TMC pull. The response of method `taobao.x.y` is under `x_y_response`,
errors under `error_response`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yarl

from kefu.clients.top_sign import SIGN_METHODS, UnknownSignMethod, top_sign

# TOP's timestamps are Beijing time (the gateway refuses others by ±10 min).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

DEFAULT_API_BASE = "https://eco.taobao.com/router/rest"
DEFAULT_CHAT_METHOD = "taobao.message.chatrobot.async"
FORM = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}


class TopTransportError(Exception):
    """No proper gateway answer (5xx, not JSON): the call may have been carried out."""


class TopAPIError(Exception):
    """The gateway answered with an error. `isp.*` sub-codes are the platform's
    own failures (it may have acted); others are refusals (nothing was done)."""

    def __init__(self, code: str, msg: str, sub_code: str = "", sub_msg: str = "") -> None:
        super().__init__(f"TOP error {code} {msg} {sub_code} {sub_msg}".strip())
        self.code = code
        self.sub_code = sub_code

    @property
    def platform_failure(self) -> bool:
        return self.sub_code.startswith("isp.")


@dataclass(frozen=True)
class TopConfig:
    app_key: str
    app_secret: str
    session: str
    api_base: str = DEFAULT_API_BASE
    sign_method: str = "md5"
    chat_method: str = DEFAULT_CHAT_METHOD

    def __post_init__(self) -> None:
        if self.sign_method not in SIGN_METHODS:
            raise UnknownSignMethod(self.sign_method)

    @property
    def configured(self) -> bool:
        return bool(self.app_key and self.app_secret)


def top_timestamp(now: datetime | None = None) -> str:
    """TOP wants China time, to the second."""
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def signed_params(
    config: TopConfig, method: str, params: Mapping[str, Any], timestamp: str | None = None
) -> dict[str, str]:
    body = {
        "method": method,
        "app_key": config.app_key,
        "session": config.session,
        "timestamp": timestamp or top_timestamp(),
        "format": "json",
        "v": "2.0",
        "sign_method": config.sign_method,
        "simplify": "true",
    }
    for key, value in params.items():
        if value is None:
            continue
        body[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    body["sign"] = top_sign(body, config.app_secret, config.sign_method)
    return body


def response_key(method: str) -> str:
    name = method[len("taobao.") :] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


class TopAPI:
    """One aiohttp session per instance; callers `await close()` when done."""

    def __init__(self, config: TopConfig, timeout: float = 10) -> None:
        self.config = config
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._url = yarl.URL(config.api_base)
        self._stamp = (0, "")  # formatting the time is a visible cost at reminder volumes

    def _timestamp(self) -> str:
        second = int(time.time())
        if self._stamp[0] != second:
            self._stamp = (second, top_timestamp())
        return self._stamp[1]

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No cookies to keep, and the URL parsed once: both show up per call at reminder volumes.
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(limit=64), cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        client = await self._client()
        # Encoded here once: aiohttp's form builder costs more than the call itself at reminder volumes.
        body = urlencode(signed_params(self.config, method, params, self._timestamp())).encode()
        async with client.post(self._url, data=body, headers=FORM) as resp:
            text = await resp.text()
            status = resp.status
        if status >= 500:
            raise TopTransportError(f"gateway answered HTTP {status}")
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            raise TopTransportError(f"gateway answered HTTP {status} with non-JSON")
        error = body.get("error_response")
        if error is not None:
            raise TopAPIError(
                str(error.get("code", "")),
                str(error.get("msg", "")),
                str(error.get("sub_code", "")),
                str(error.get("sub_msg", "")),
            )
        # With simplify=true the result is the body itself; without, under <name>_response.
        return body.get(response_key(method), body)

    async def send_chat(self, buyer: str, text: str, seller: str = "", id_kind: str = "nick") -> dict[str, Any]:
        """One text to one buyer through the platform's robot channel.

        `id_kind` is "nick" or "open_uid": whichever the buyer was known by.
        """
        return await self.call(
            self.config.chat_method, receivers=[{id_kind: buyer}], content=text, seller_nick=seller or None
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
