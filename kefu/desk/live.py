"""The desk's websocket (`GET /api/live`): live queue and conversation, and
agent replies, both ways.

The agent's page says which conversation it watches and the timestamp of
the last turn it has: `{"watch": 12, "after": 1764200000.5}`. The desk
sends every turn after that one, so a page that lost its connection asks
again with its last timestamp and misses nothing. Replies go the other way:
`{"reply": "您好…"}` is sent like `POST /api/conversations/{id}/reply`.
Turns come from Rasa's tracker and the queue from the desk database, read
once a second while the page is connected.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import Any, Awaitable, Callable, Dict, Optional
from urllib.parse import urlparse

from aiohttp import WSMsgType, web

from kefu.core import conversations
from kefu.desk.history import HistoryUnavailable, read_history
from kefu.text.received import InvalidInput, parse_json, whole_number

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class Watch:
    def __init__(self) -> None:
        self.conversation_id: Optional[int] = None
        self.after = 0.0


def same_origin(request: web.Request) -> bool:
    """Browsers send cookies on cross-site websocket handshakes too (no CSRF
    header possible there), so the page must come from the desk itself."""
    origin = request.headers.get("Origin")
    return origin is None or urlparse(origin).netloc == request.host


async def live(request: web.Request, in_db: Callable[..., Awaitable[Any]], http, settings,
               reply: Callable[[web.Request, int, Any], Awaitable[web.Response]]) -> web.StreamResponse:
    if not same_origin(request):
        return web.json_response({"error": "cross-origin websocket refused"}, status=403)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    watch = Watch()
    pusher = asyncio.create_task(push(ws, watch, in_db, http, settings))
    # If the pusher ever stops, close the socket: the page reconnects and
    # catches up, instead of looking online while nothing arrives.
    pusher.add_done_callback(lambda _task: asyncio.ensure_future(ws.close()))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await ws.send_json({"type": "error", "status": 400, "error": "messages must be JSON text"})
                continue
            if msg.type != WSMsgType.TEXT:
                continue  # a text frame that is not UTF-8 closes the socket (1007) in aiohttp itself
            try:
                answer = await handle(msg.data, watch, request, reply)
            except InvalidInput as exc:
                # The same checks as the HTTP API's bodies: a lone surrogate or
                # a deep nesting gets an error frame, and the socket stays open.
                answer = {"type": "error", "status": 400, "error": str(exc)}
            except Exception:  # one bad message must not end the agent's live feed
                log.exception("live message failed")
                answer = {"type": "error", "status": 500, "error": "internal error; the desk log has the details"}
            if answer is not None:
                await ws.send_json(answer)
    finally:
        pusher.cancel()
    return ws


async def handle(text: str, watch: Watch, request: web.Request,
                 reply: Callable[[web.Request, int, Any], Awaitable[web.Response]]) -> Optional[dict]:
    """One message from the page; the frame to answer with, if any."""
    data = parse_json(text.encode("utf-8", "surrogatepass"), "message")
    if not isinstance(data, dict):
        raise InvalidInput("messages must be JSON objects")
    if "watch" in data:
        watch.conversation_id, watch.after = watched(data)
    if "reply" not in data:
        return None
    # The reply names its conversation: it must be the one on the
    # agent's screen, never whatever the socket watched last.
    if watch.conversation_id is None or data.get("conversation") != watch.conversation_id:
        return {"type": "error", "status": 409, "error": "the reply's conversation is not the one being watched"}
    resp = await reply(request, watch.conversation_id, data["reply"])
    return {"type": "sent" if resp.status == 200 else "error", "status": resp.status, **json.loads(resp.text)}


def watched(data: Dict[str, Any]) -> tuple:
    """(conversation id, timestamp) of a `{"watch", "after"}` message."""
    cid, after = data["watch"], data.get("after") or 0
    if cid is not None:
        # A number or its digits; never a bool, a float or a list.
        cid = whole_number(str(cid) if type(cid) in (int, str) else "", "watch")
    if type(after) not in (int, float) or not math.isfinite(after):
        raise InvalidInput("watch needs a conversation id and a timestamp")
    return cid, float(after)


async def push(ws: web.WebSocketResponse, watch: Watch, in_db, http, settings) -> None:
    last_queue = None
    while not ws.closed:
        try:
            queue = await in_db(lambda s: [conversations.conversation_to_json(c) for c in
                                           conversations.list_conversations(s, None)
                                           if c.status in ("waiting", "assigned")])
            if queue != last_queue:
                await ws.send_json({"type": "queue", "conversations": queue})
                last_queue = queue
            cid, after = watch.conversation_id, watch.after
            if cid is not None:
                watched = next((c for c in queue if c["id"] == cid), None)
                customer = watched["customer_id"] if watched else await in_db(
                    lambda s: getattr(s.get(conversations.Conversation, cid), "customer_id", None))
                new = await read_history(http, settings, customer, after) if customer else []
                # The page may have switched conversations meanwhile: then these are stale.
                if new and watch.conversation_id == cid and watch.after == after:
                    await ws.send_json({"type": "messages", "conversation": cid, "messages": new})
                    watch.after = max(m["timestamp"] for m in new)
        except HistoryUnavailable as exc:
            log.warning("live history: %s", exc)
        except (ConnectionResetError, RuntimeError):
            return  # the page went away
        except Exception:  # a database hiccup must not silently end the live feed
            log.exception("live update failed; trying again")
        await asyncio.sleep(POLL_SECONDS)
