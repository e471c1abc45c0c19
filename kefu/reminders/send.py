"""Sending one reminder text on its channel, and knowing whether it went out.

Three outcomes matter for exactly-once: sent; certainly not sent (the
platform answered with an error, or no connection was made) -> may retry;
anything else (timeout, connection dropped mid-call) -> may have been sent,
so the caller marks the reminder `uncertain`.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from kefu.clients.top_api import TopAPI, TopAPIError, TopConfig
from kefu.clients.wechat_api import WeChatAPI, WeChatAPIError
from kefu.clients.wecom_api import WeComAPI, WeComAPIError
from kefu.core.settings import ChannelSettings


def top_config(channels: ChannelSettings) -> TopConfig:
    """The TOP client's configuration (the client reads no settings itself)."""
    t = channels.taobao
    return TopConfig(
        app_key=t.app_key,
        app_secret=t.app_secret,
        session=t.session,
        api_base=t.api_base,
        sign_method=t.sign_method,
        chat_method=t.chat_method,
    )


class NotSent(Exception):
    """Certainly not delivered; trying again later is safe."""


class CannotSend(Exception):
    """This channel is not set up: no retry will help, an operator must act."""


@dataclass
class Senders:
    top: TopAPI | None = None
    wechat: WeChatAPI | None = None
    wecom: WeComAPI | None = None
    wecom_open_kfid: str = ""
    sms_url: str = ""
    timeout: float = 10

    @classmethod
    def from_settings(cls, channels: ChannelSettings) -> Senders:
        """A client for each platform configured in channels (kefu/core/settings.py)."""
        wechat, wecom = channels.wechat, channels.wecom
        top = top_config(channels)
        return cls(
            top=TopAPI(top) if top.configured else None,
            wechat=WeChatAPI(wechat.api_base, wechat.appid, wechat.appsecret) if wechat.configured else None,
            wecom=WeComAPI(wecom.api_base, wecom.corpid, wecom.secret) if wecom.configured else None,
            wecom_open_kfid=wecom.open_kfid,
            sms_url=channels.sms_url,
        )

    async def send(self, channel: str, address: str, text: str, shop: str | None = None) -> None:
        try:
            await self._send(channel, address, text, shop)
        except TopAPIError as exc:
            if exc.platform_failure:  # e.g. isp.remote-timeout: it may have gone out
                raise
            raise NotSent(str(exc))
        except (WeChatAPIError, WeComAPIError) as exc:
            raise NotSent(str(exc))
        except aiohttp.ClientConnectorError as exc:  # nothing reached the platform
            raise NotSent(f"cannot connect: {exc}")

    async def _send(self, channel: str, address: str, text: str, shop: str | None) -> None:
        if channel in ("taobao", "tmall"):
            if self.top is None:
                raise CannotSend("Taobao/Tmall is not configured (TAOBAO_APP_KEY, TAOBAO_APP_SECRET)")
            await self.top.send_chat(address, text, seller=shop or "")
        elif channel == "wechat":
            if self.wechat is None:
                raise CannotSend("WeChat is not configured (WECHAT_APPID, WECHAT_APPSECRET)")
            await self.wechat.send_text(address, text)
        elif channel == "wecom":
            if self.wecom is None or not self.wecom_open_kfid:
                raise CannotSend("WeCom is not configured (WECOM_CORPID, WECOM_SECRET, WECOM_OPEN_KFID)")
            await self.wecom.send_text(self.wecom_open_kfid, address, text)
        elif channel == "sms":
            await self._send_sms(address, text)
        else:
            raise CannotSend(f"no way to send on channel {channel!r}")

    async def _send_sms(self, phone: str, text: str) -> None:
        """A plain JSON POST {phone, text} to the operator's SMS gateway."""
        if not self.sms_url:
            raise CannotSend("no SMS gateway configured (KEFU_SMS_URL)")
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
            session.post(self.sms_url, json={"phone": phone, "text": text}) as resp,
        ):
            if 400 <= resp.status < 500:
                raise NotSent(f"SMS gateway refused it: HTTP {resp.status}")
            if resp.status >= 500:  # it may have queued the text before failing
                raise RuntimeError(f"SMS gateway answered HTTP {resp.status}")

    async def close(self) -> None:
        if self.top is not None:
            await self.top.close()
