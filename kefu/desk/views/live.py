"""The desk's websocket (`GET /api/live`): live queue and conversation, and
agent replies, both ways.

The agent's page says which conversation it watches and the timestamp of
the last turn it has: `{"watch": 12, "after": 1764200000.5}`. The desk
sends every turn after that one, so a page that lost its connection asks
again with its last timestamp and misses nothing. Replies go the other way:
`{"reply": "您好…"}` is sent like `POST /api/conversations/{id}/reply`, and
`{"type": "typing", "conversation_id": 12, "typing": true}` (the reply box,
throttled by the page) shows "客服 <name> 正在输入…" in a web-widget
customer's widget while the agent types; other channels have no such signal.
Turns come from Rasa's tracker, read when Rasa's events say the watched
conversation changed (kefu/desk/live_events.py; at least every 10 s), and
the queue from the desk database, read once a second while the page is
connected. A customer's 催单 on an overdue
ticket arrives as `{"type": "chase", "tickets": [...]}` (the tickets as
`GET /api/tickets` shows them), for the pages to show a notice.
A photo or file the watched customer sends arrives as
`{"type": "media", "conversation": 12, "media": [...]}` (as
`GET /api/customers/{id}/media` lists them); the watch message may say
the newest media id the page already shows (`"media_after": 7`), else
only media that arrives after the watch is announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

from aiohttp import WSMsgType, web

from kefu.core import conversations, media, routing, tickets, waiting, widget_state
from kefu.core.errors import Forbidden, KefuError
from kefu.core.models import utcnow
from kefu.desk.live_events import FALLBACK_SECONDS, HUB, LiveHub, Watcher
from kefu.desk.rasa_client import RasaClient, RasaUnavailable
from kefu.desk.requests import AGENT, RASA, in_db, same_origin
from kefu.desk.views.conversations import agent_reply
from kefu.text.received import InvalidInput, parse_json, whole_number

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
HEARTBEAT_EVERY = 15.0  # a page marks its agent present this often (well inside the presence timeout)


class Watch(Watcher):
    def __init__(self) -> None:
        super().__init__()
        self.conversation_id: int | None = None
        self.after = 0.0
        # Newest media id the page shows; None until known (see push).
        self.media_after: int | None = None


async def live_updates(request: web.Request) -> web.StreamResponse:
    # A cross-site handshake carries the agent's cookie too (see same_origin).
    if not same_origin(request):
        raise Forbidden("cross-origin websocket refused")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    watch = Watch()
    pusher = asyncio.create_task(push(ws, watch, lambda fn: in_db(request, fn), request.app[RASA], request.app[HUB]))
    # If the pusher ever stops, close the socket: the page reconnects and
    # catches up, instead of looking online while nothing arrives.
    pusher.add_done_callback(lambda _task: asyncio.ensure_future(ws.close()))
    # An open desk page keeps its agent present for routing (kefu.core.routing).
    present = asyncio.create_task(keep_present(request))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await ws.send_json({"type": "error", "status": 400, "error": "messages must be JSON text"})
                continue
            if msg.type != WSMsgType.TEXT:
                continue  # a text frame that is not UTF-8 closes the socket (1007) in aiohttp itself
            try:
                answer = await handle(msg.data, watch, request)
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
        present.cancel()
    return ws


def desk_queue(session) -> list[dict]:
    """The conversations in the desk (waiting, assigned), in queue order, with
    each waiting one's group and place."""
    listed = [c for c in conversations.list_conversations(session, None) if c.status in conversations.DESK_STATUSES]
    places = routing.positions(session, listed)
    # Urgent and nobody of its group at the desk: supervisors are alerted.
    unstaffed = waiting.unstaffed_urgent(session, listed)
    return [
        {
            **conversations.conversation_to_json(c, places.get(c.id)),
            "unstaffed": c.id in unstaffed,
            "customer_typing": widget_state.is_typing(c),  # a widget customer typing now
        }
        for c in listed
    ]


async def keep_present(request: web.Request) -> None:
    agent_id = request[AGENT].id
    while True:
        try:
            await in_db(request, routing.seen, agent_id)
        except Exception as exc:  # the database away for a moment: the next beat retries
            log.warning("presence not recorded: %s", exc.__class__.__name__)
        await asyncio.sleep(HEARTBEAT_EVERY)


async def handle(text: str, watch: Watch, request: web.Request) -> dict | None:
    """One message from the page; the frame to answer with, if any."""
    data = parse_json(text.encode("utf-8", "surrogatepass"), "message")
    if not isinstance(data, dict):
        raise InvalidInput("messages must be JSON objects")
    if "watch" in data:
        seen = watched(data), media_after(data)
        (watch.conversation_id, watch.after), watch.media_after = seen
        watch.poke()  # a new watch: its turns at once
    if data.get("type") == "typing":
        return await typing(data, watch, request)
    if "reply" not in data:
        return None
    # The reply names its conversation: it must be the one on the
    # agent's screen, never whatever the socket watched last.
    if watch.conversation_id is None or data.get("conversation") != watch.conversation_id:
        return {"type": "error", "status": 409, "error": "the reply's conversation is not the one being watched"}
    # Sent or refused, the frame carries what `POST .../reply` would answer.
    try:
        sent = await agent_reply(request, watch.conversation_id, data["reply"])
    except KefuError as exc:
        return {"type": "error", "status": exc.status, **exc.as_json()}
    return {"type": "sent", "status": 200, **sent}


async def typing(data: dict[str, Any], watch: Watch, request: web.Request) -> dict | None:
    """Relay the agent's typing to the customer's widget; no answer frame
    (a lost signal only means no "正在输入…")."""
    if type(data.get("typing")) is not bool:
        raise InvalidInput("typing must be true or false")
    if watch.conversation_id is None or data.get("conversation_id") != watch.conversation_id:
        return None  # the page switched conversations meanwhile
    agent = request[AGENT]
    found = await in_db(request, lambda s: s.get(conversations.Conversation, watch.conversation_id))
    # Only where this agent serves, or may take, a widget customer: the
    # customer never sees a name that is not about to answer them.
    if (
        found is None
        or found.channel != "socketio"
        or found.status not in conversations.DESK_STATUSES
        or found.assignee_id not in (None, agent.id)
    ):
        return None
    try:
        await request.app[RASA].typing(found.customer_id, data["typing"], agent.name)
    except RasaUnavailable as exc:
        log.info("typing signal for conversation %s not delivered: %s", found.id, exc)
    return None


def watched(data: dict[str, Any]) -> tuple:
    """(conversation id, timestamp) of a `{"watch", "after"}` message."""
    cid, after = data["watch"], data.get("after") or 0
    if cid is not None:
        # A number or its digits; never a bool, a float or a list.
        cid = whole_number(str(cid) if type(cid) in (int, str) else "", "watch")
    if type(after) not in (int, float) or not math.isfinite(after):
        raise InvalidInput("watch needs a conversation id and a timestamp")
    return cid, float(after)


def media_after(data: dict[str, Any]) -> int | None:
    """The optional `media_after` of a watch message."""
    value = data.get("media_after")
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise InvalidInput("media_after must be a media id")
    return value


async def push_media(ws: web.WebSocketResponse, watch: Watch, cid: int, customer: str, in_db) -> None:
    """Photos the watched customer sent since the page last looked, so the
    agent sees them without reopening the conversation."""
    latest = await in_db(lambda s: media.latest_id(s, customer))
    if watch.conversation_id != cid:
        return
    if watch.media_after is None:
        watch.media_after = latest
    elif latest > watch.media_after:
        after = watch.media_after
        new = await in_db(lambda s: [media.media_to_json(m) for m in media.of_customer(s, customer) if m.id > after])
        await ws.send_json({"type": "media", "conversation": cid, "media": new})
        watch.media_after = latest


async def push(ws: web.WebSocketResponse, watch: Watch, in_db, rasa: RasaClient, hub: LiveHub) -> None:
    """The queue (from the desk database) once a second; the watched
    conversation's new turns when Rasa's events say it changed (at least
    every FALLBACK_SECONDS)."""
    last_queue = None
    chases_after = utcnow()
    loop = asyncio.get_running_loop()
    last_read = 0.0
    with hub.watching(watch):
        while not ws.closed:
            try:
                chased = await in_db(
                    lambda s, after=chases_after: [
                        (t.chased_at, tickets.ticket_to_json(t)) for t in tickets.chased_since(s, after)
                    ]
                )
                if chased:
                    await ws.send_json({"type": "chase", "tickets": [t for _at, t in chased]})
                    chases_after = max(at for at, _t in chased)
                queue = [hub.decorate(c) for c in await in_db(desk_queue)]
                if queue != last_queue:
                    await ws.send_json({"type": "queue", "conversations": queue})
                    last_queue = queue
                cid, after = watch.conversation_id, watch.after
                if cid is not None:
                    watched = next((c for c in queue if c["id"] == cid), None)
                    customer = (
                        watched["customer_id"]
                        if watched
                        else await in_db(
                            lambda s, cid=cid: getattr(s.get(conversations.Conversation, cid), "customer_id", None)
                        )
                    )
                    if customer != watch.customer_id:
                        watch.customer_id, watch.stale = customer, True
                    if customer:  # before the turns: photos reach the page while Rasa is away too
                        await push_media(ws, watch, cid, customer, in_db)
                    if customer and (watch.stale or loop.time() - last_read >= FALLBACK_SECONDS):
                        watch.stale = False
                        last_read = loop.time()
                        new = await rasa.history(customer, after)
                        # The page may have switched conversations meanwhile: then these are stale.
                        if new and watch.conversation_id == cid and watch.after == after:
                            await ws.send_json({"type": "messages", "conversation": cid, "messages": new})
                            watch.after = max(m["timestamp"] for m in new)
            except RasaUnavailable as exc:
                watch.stale = True  # read again on the next pass
                log.warning("live history: %s", exc)
            except (ConnectionResetError, RuntimeError):
                return  # the page went away
            except Exception:  # a database hiccup must not silently end the live feed
                log.exception("live update failed; trying again")
            watch.wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(watch.wake.wait(), timeout=POLL_SECONDS)
