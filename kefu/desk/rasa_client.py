"""Every call the desk makes to Rasa's HTTP API.

Rasa's tracker is the one record of what the customer, the bot and the
agents said: the desk reads a conversation's turns from it and adds to it
(an agent's reply, the bot resumed, a notice for the web widget, a
satisfaction survey); with an output channel Rasa also delivers the bot
messages on the customer's own channel. /healthz asks Rasa whether it has a
model.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp

from kefu.core.errors import KefuError
from kefu.core.settings import Settings


class RasaUnavailable(KefuError):
    """Rasa refused a call or could not be reached: a 502 for the desk's caller."""

    status = 502


def conversation_url(rasa_url: str, customer_id: str, tail: str = "") -> str:
    """Rasa's API URL of one customer's conversation, e.g. tail "/tracker".

    The id goes into the path percent-encoded as UTF-8, every reserved
    character included (`/ ? # %`, space, `:`); Kefu's Rasa decodes it
    (kefu/runtime/rasa_server.py), so 小明2026 names the conversation 小明2026.
    """
    return f"{rasa_url}/conversations/{quote(customer_id, safe='')}{tail}"


# Metadata of the message the web widget sends when a new customer opens it
# (`/greet`): the bot's greeting is the only one, and the request is no turn.
OPENING_MARK = "kefu_opening"


def turns(events: list, after: float = 0.0) -> list[dict]:
    """Customer, bot and agent texts later than `after` (a tracker timestamp)."""
    found = []
    for e in events:
        if e.get("event") not in ("user", "bot") or not e.get("text") or (e.get("timestamp") or 0) <= after:
            continue
        if e["event"] == "user" and (e.get("metadata") or {}).get(OPENING_MARK):
            continue  # the widget asking for its one greeting: nothing the customer said
        agent = (e.get("metadata") or {}).get("agent")
        found.append(
            {
                "from": "customer" if e["event"] == "user" else ("agent" if agent else "bot"),
                "text": e["text"],
                "timestamp": e.get("timestamp"),
                "agent": agent,
            }
        )
    return found


class RasaClient:
    """One per desk process, over the desk's aiohttp session."""

    def __init__(self, http: aiohttp.ClientSession, settings: Settings) -> None:
        self.http = http
        self.rasa_url = settings.rasa_url
        self.token = settings.rasa_token

    async def close(self) -> None:
        await self.http.close()

    async def history(self, customer_id: str, after: float = 0.0) -> list[dict]:
        """The conversation's turns later than `after`; RasaUnavailable when it cannot be read."""
        url = conversation_url(self.rasa_url, customer_id, "/tracker")
        params = {"token": self.token} if self.token else None
        try:
            async with self.http.get(url, params=params) as resp:
                if resp.status >= 300:
                    raise RasaUnavailable(f"Rasa refused the history: HTTP {resp.status}")
                tracker = await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # aiohttp's total timeout is not a ClientError
            raise RasaUnavailable(f"Rasa unreachable: {exc.__class__.__name__}")
        return turns(tracker.get("events", []), after)

    async def say(self, customer_id: str, text: str, channel: str, metadata: dict[str, Any] | None = None) -> None:
        """A bot turn (an agent's reply carries the agent in `metadata`),
        delivered on the customer's `channel`."""
        event: dict[str, Any] = {"event": "bot", "text": text}
        if metadata:
            event["metadata"] = metadata
        await self.post_events(customer_id, [event], channel)

    async def widget_notice(self, customer_id: str, notice: dict) -> None:
        """A custom payload only the web widget reads (who is serving the customer)."""
        await self.post_events(customer_id, [{"event": "bot", "text": None, "data": {"custom": notice}}], "socketio")

    async def typing(self, customer_id: str, typing: bool, agent: str | None) -> None:
        """The web widget shows "客服 <agent> 正在输入…" (or stops): Kefu's
        `POST /conversations/{id}/typing` on Rasa, which holds the customer's
        socket; nothing is recorded in the conversation."""
        url = conversation_url(self.rasa_url, customer_id, "/typing")
        params = {"token": self.token} if self.token else None
        try:
            # Short: the agent's next reply waits behind it on the desk's websocket.
            async with self.http.post(
                url, json={"typing": typing, "agent": agent}, params=params, timeout=aiohttp.ClientTimeout(total=2)
            ) as resp:
                if resp.status >= 300:
                    raise RasaUnavailable(f"Rasa refused the typing signal: HTTP {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa unreachable: {exc.__class__.__name__}")

    async def resume(self, customer_id: str) -> None:
        """The bot answers the customer again (Rasa's ConversationResumed).

        action_listen after the resume: the customer's next message then
        starts a fresh turn that the rules recognise."""
        await self.post_events(customer_id, [{"event": "resume"}, {"event": "action", "name": "action_listen"}])

    async def post_events(self, customer_id: str, events: list, output_channel: str | None = None) -> None:
        """Add events to the customer's Rasa conversation (and, with an output
        channel, deliver its bot messages there); RasaUnavailable if not done."""
        url = conversation_url(self.rasa_url, customer_id, "/tracker/events")
        params = {"output_channel": output_channel, "execute_side_effects": "true"} if output_channel else {}
        if self.token:
            params["token"] = self.token
        try:
            async with self.http.post(url, json=events, params=params) as resp:
                if resp.status >= 300:
                    raise RasaUnavailable(f"Rasa refused the events: HTTP {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # A timeout may come after Rasa delivered: the agent sees an error and
            # the history (read again) tells whether the reply is there.
            raise RasaUnavailable(f"Rasa unreachable: {exc.__class__.__name__}")

    async def model_problem(self) -> dict | None:
        """None when Rasa has a model; else what is wrong, as /healthz's body.

        Without a loaded model Rasa still accepts every message and answers
        nothing (after `DELETE /model` or a failed `PUT /model`), so a health
        check that only saw the port open would say ok. Rasa's /status answers
        409 then."""
        try:
            async with self.http.get(
                f"{self.rasa_url}/status", params={"token": self.token or ""}, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                if resp.status == 409:
                    return {"model": "missing"}
                if resp.status in (401, 403):
                    return {"rasa": "token refused: KEFU_RASA_TOKEN differs from Rasa's"}
                if resp.status != 200:
                    return {"rasa": f"HTTP {resp.status}"}
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return {"rasa": f"unreachable: {exc.__class__.__name__}"}
        return None

    async def load_model(self, rasa_url: str, model_file: str) -> str | None:
        """Rasa's `PUT /model` on one server; None when loaded (or when the
        server is not running: it loads the registry's live model when it
        starts), else what went wrong."""
        params = {"token": self.token} if self.token else None
        try:
            async with self.http.put(
                f"{rasa_url}/model",
                json={"model_file": model_file},
                params=params,
                timeout=aiohttp.ClientTimeout(total=300),
            ) as resp:
                if resp.status >= 300:
                    return f"{rasa_url}: HTTP {resp.status} {(await resp.text())[:300]}"
        except aiohttp.ClientConnectorError:
            return None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return f"{rasa_url}: {exc.__class__.__name__}"
        return None
