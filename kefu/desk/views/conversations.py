"""The handoff queue: conversations the bot handed to the desk, taken,
answered, handed back to the bot or closed by an agent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from kefu.core import conversations, routing
from kefu.core.errors import BadRequest, Forbidden, NotFound
from kefu.core.models import ConversationStatus, local_iso
from kefu.core.permissions import can_hand_back_conversation
from kefu.desk.rasa_client import RasaUnavailable
from kefu.desk.requests import AGENT, RASA, SETTINGS, in_db, int_param, read_json
from kefu.text.ad_law import check_outgoing
from kefu.text.received import is_valid_text

log = logging.getLogger(__name__)
MAX_REPLY_CHARS = 2000


async def list_conversations(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status is not None and status not in ConversationStatus.__members__:
        raise BadRequest(f"unknown status {status!r}")

    def listed(session):
        found = conversations.list_conversations(session, status)
        return found, routing.positions(session, found)

    found, places = await in_db(request, listed)
    return web.json_response(
        {"conversations": [conversations.conversation_to_json(c, places.get(c.id)) for c in found]}
    )


async def take_conversation(request: web.Request) -> web.Response:
    """One click: the conversation is this agent's (谁受理谁负责); 409 for a
    second agent (conversations.ConversationTaken, code "taken") and for an
    agent at capacity (routing.AtCapacity, code "at_capacity")."""
    conversation_id = int_param(request, "conversation_id")
    conversation = await in_db(request, routing.take, conversation_id, request[AGENT].id)
    if conversation is None:
        raise NotFound("no such conversation")
    await widget_notice(request, conversation, {"kefu_agent_joined": request[AGENT].name})
    return web.json_response({"conversation": conversations.conversation_to_json(conversation)})


async def conversation_messages(request: web.Request) -> web.Response:
    """The whole history, customer and bot turns, read from Rasa's tracker."""
    found = await find_conversation(request)
    messages = await request.app[RASA].history(found.customer_id)
    return web.json_response({"conversation": conversations.conversation_to_json(found), "messages": messages})


async def reply_to_conversation(request: web.Request) -> web.Response:
    """An agent's answer, delivered on the customer's own channel by Rasa.

    Rasa records it as a bot turn and sends it through the channel's output
    (WeChat 客服消息, socket.io …), so history and delivery stay in one place.
    """
    body = await read_json(request)
    return web.json_response(await agent_reply(request, int_param(request, "conversation_id"), body.get("text")))


async def agent_reply(request: web.Request, conversation_id: int, text_: Any) -> dict:
    """Shared by the reply endpoint and the desk's websocket: the answer's
    JSON body; a refusal is raised (KefuError)."""
    if not isinstance(text_, str) or not text_.strip():
        raise BadRequest("text must be a non-empty string")
    # The websocket's replies come here too: Rasa must never get a lone surrogate.
    if not is_valid_text(text_):
        raise BadRequest("'text' is not valid UTF-8 text")
    if len(text_) > MAX_REPLY_CHARS:
        raise BadRequest(f"text longer than {MAX_REPLY_CHARS} characters")
    agent = request[AGENT]
    # Taken by another agent, not in the desk, or the agent at capacity: a 409.
    conversation = await in_db(request, routing.take, conversation_id, agent.id)
    checked = check_outgoing(text_.strip(), conversation.channel, conversation.customer_id)
    await request.app[RASA].say(conversation.customer_id, checked, conversation.channel, {"agent": agent.name})
    await in_db(request, routing.first_answer, conversation.id)
    return {"conversation": conversations.conversation_to_json(conversation), "sent_text": checked}


async def resume_conversation(request: web.Request) -> web.Response:
    """Return a handed-off conversation to the bot (Rasa ConversationResumed)."""
    return await hand_back(request, conversations.return_to_bot)


async def close_conversation(request: web.Request) -> web.Response:
    """The agent is done: the conversation leaves the desk, and the customer's
    next message is answered by the bot again (a new conversation)."""
    return await hand_back(request, conversations.close_conversation)


async def hand_back(request: web.Request, record: Callable[..., Any]) -> web.Response:
    """Resume the bot in Rasa, then `record` the conversation's new state
    (back to the bot, or closed) and tell the widget the agent has left."""
    found = await find_conversation(request)
    if not can_hand_back_conversation(request[AGENT], found.assignee_id):
        raise Forbidden("only the agent serving this conversation or a supervisor may do this")
    await request.app[RASA].resume(found.customer_id)
    updated = await in_db(request, record, found.id)
    await widget_notice(request, updated, {"kefu_agent_left": True})
    return web.json_response({"conversation": conversations.conversation_to_json(updated)})


async def find_conversation(request: web.Request) -> conversations.Conversation:
    conversation_id = int_param(request, "conversation_id")
    found = await in_db(request, lambda s: s.get(conversations.Conversation, conversation_id))
    if found is None:
        raise NotFound("no such conversation")
    return found


async def widget_notice(request: web.Request, conversation, notice: dict) -> None:
    """The web widget shows who is serving the customer; other channels need
    no notice. Not delivered is logged: the agent's action stands."""
    if conversation.channel == "socketio":
        try:
            await request.app[RASA].widget_notice(conversation.customer_id, notice)
        except RasaUnavailable:
            log.warning("widget notice for %s not delivered", conversation.customer_id)


TRANSFER_TEXT = "您好，正在为您转接更合适的客服同事，请稍候，我们会尽快为您服务。"


async def transfer_conversation(request: web.Request) -> web.Response:
    """POST …/transfer {"agent_id"} or {"group"}, "note" optional: to a
    colleague (online, with room) or to a group's queue; the customer is told
    politely, the note stays internal."""
    found = await find_conversation(request)
    if not can_hand_back_conversation(request[AGENT], found.assignee_id):
        raise Forbidden("only the agent serving this conversation or a supervisor may transfer it")
    body = await read_json(request)
    agent_id, group, note = body.get("agent_id"), body.get("group"), body.get("note")
    if agent_id is not None and type(agent_id) is not int:
        raise BadRequest("agent_id must be a whole number")
    if group is not None and not isinstance(group, str):
        raise BadRequest("group must be a group's name")
    if note is not None and (not isinstance(note, str) or not is_valid_text(note)):
        raise BadRequest("note must be text")
    timeout = timedelta(seconds=request.app[SETTINGS].presence_timeout)

    def move(session):
        return routing.transfer(
            session, found.id, agent_id=agent_id, group=group, note=note, by=request[AGENT].id, timeout=timeout
        )

    updated = await in_db(request, move)
    try:
        await request.app[RASA].say(updated.customer_id, TRANSFER_TEXT, updated.channel)
    except RasaUnavailable:
        log.warning("transfer notice for %s not delivered", updated.customer_id)
    return web.json_response({"conversation": conversations.conversation_to_json(updated)})


async def list_notes(request: web.Request) -> web.Response:
    """GET …/notes: every internal note on the conversation's customer, newest first."""
    notes = await in_db(request, routing.notes_for, int_param(request, "conversation_id"))
    return web.json_response({"notes": notes})


async def add_note(request: web.Request) -> web.Response:
    """POST …/notes {"text"}: never sent to the customer."""
    body = await read_json(request)
    note = body.get("text")
    if not isinstance(note, str) or not is_valid_text(note):
        raise BadRequest("text must be a non-empty string")
    row = await in_db(request, routing.add_note, int_param(request, "conversation_id"), request[AGENT].id, note)
    return web.json_response(
        {
            "note": {
                "id": row.id,
                "author": request[AGENT].name,
                "text": row.text,
                "created_at": local_iso(row.created_at),
            }
        },
        status=201,
    )
