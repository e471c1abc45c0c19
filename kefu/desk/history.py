"""A conversation's turns as the desk shows them, read from Rasa's tracker
(the one record of what the customer, the bot and the agents said)."""
from __future__ import annotations

import asyncio
from typing import List
from urllib.parse import quote

import aiohttp

from kefu.core.settings import Settings


class HistoryUnavailable(Exception):
    pass


def conversation_url(rasa_url: str, customer_id: str, tail: str = "") -> str:
    """Rasa's API URL of one customer's conversation, e.g. tail "/tracker".

    The id goes into the path percent-encoded as UTF-8, every reserved
    character included (`/ ? # %`, space, `:`); Kefu's Rasa decodes it
    (kefu/runtime/rasa_server.py), so 小明2026 names the conversation 小明2026.
    """
    return f"{rasa_url}/conversations/{quote(customer_id, safe='')}{tail}"


def turns(events: list, after: float = 0.0) -> List[dict]:
    """Customer, bot and agent texts later than `after` (a tracker timestamp)."""
    found = []
    for e in events:
        if e.get("event") not in ("user", "bot") or not e.get("text") or (e.get("timestamp") or 0) <= after:
            continue
        agent = (e.get("metadata") or {}).get("agent")
        found.append({"from": "customer" if e["event"] == "user" else ("agent" if agent else "bot"),
                      "text": e["text"], "timestamp": e.get("timestamp"), "agent": agent})
    return found


async def read_history(http: aiohttp.ClientSession, settings: Settings, customer_id: str,
                       after: float = 0.0) -> List[dict]:
    url = conversation_url(settings.rasa_url, customer_id, "/tracker")
    params = {"token": settings.rasa_token} if settings.rasa_token else None
    try:
        async with http.get(url, params=params) as resp:
            if resp.status >= 300:
                raise HistoryUnavailable(f"Rasa refused the history: HTTP {resp.status}")
            tracker = await resp.json()
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # aiohttp's total timeout is not a ClientError
        raise HistoryUnavailable(f"Rasa unreachable: {exc.__class__.__name__}")
    return turns(tracker.get("events", []), after)
