"""The desk's HTTP API (aiohttp): login, tickets, the handoff queue."""
from __future__ import annotations

import asyncio
import json
import logging
import os
from functools import partial, wraps
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, TypeVar

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.orm import Session

from kefu.core import (agents, canned, conversations, deliveries, login_limit, orders, reminder_outbox, reports,
                       surveys, ticket_flow, tickets)
from kefu.desk import auth as web_auth
from kefu.desk import live, security_headers
from kefu.text.ad_law import check_outgoing
from kefu.core.settings import Settings, load_settings
from kefu.core.db import ThreadedSessions, upgrade
from kefu.desk.history import HistoryUnavailable, conversation_url, read_history
from kefu.desk import rasa_health
from kefu.core.models import ConversationStatus, ReminderStatus, TicketStatus, local_iso, utcnow
from kefu.text.received import InvalidInput, is_valid_text, parse_json, whole_number

log = logging.getLogger(__name__)
T = TypeVar("T")

STORE = web.AppKey("store", ThreadedSessions)
SETTINGS = web.AppKey("settings", Settings)
HTTP = web.AppKey("http", aiohttp.ClientSession)
AGENT = "agent"
TOKEN = "token"
STATIC = Path(__file__).resolve().parent / "static"


async def in_db(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in a thread with its own session."""
    return await request.app[STORE].run(fn, *args)


def json_error(status: int, message: str, code: Optional[str] = None) -> web.Response:
    """`code`, where given, lets the desk's page tell two refusals of one status apart."""
    return web.json_response({"error": message, **({"code": code} if code else {})}, status=status)


def supervisor_required(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """A handler for supervisors only: anyone else gets 403 before it runs."""
    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        if request[AGENT].role != "supervisor":
            return json_error(403, "only supervisors may do this")
        return await handler(request)

    return checked


@web.middleware
async def error_middleware(request: web.Request, handler):
    """The one place a refused request becomes a JSON error: whatever a
    client sends (odd ids, deep or mistyped JSON, broken text) ends as a
    4xx with a message, never as a traceback and a 500."""
    try:
        return await handler(request)
    except InvalidInput as exc:
        return json_error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            response = json_error(exc.status, exc.reason)
            if "Allow" in exc.headers:  # a 405 names the methods there are
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return json_error(500, "internal error; the desk log has the details")


@web.middleware
async def auth_middleware(request: web.Request, handler):
    if request.path.startswith("/api/") and request.path != "/api/login":
        token, from_cookie = web_auth.credentials(request)
        if not token:
            return json_error(401, "missing bearer token or session cookie")
        # Header bytes that are not UTF-8 arrive as lone surrogates: no token has them.
        if not is_valid_text(token):
            return json_error(401, "invalid or expired token")
        agent = await in_db(request, agents.agent_for_token, token)
        if agent is None:
            return json_error(401, "invalid or expired token")
        if from_cookie and not web_auth.csrf_ok(request, token):
            return json_error(403, f"missing or wrong {web_auth.CSRF_HEADER} header")
        request[AGENT] = agent
        request[TOKEN] = token
    return await handler(request)


async def read_json(request: web.Request) -> dict:
    """The body as a JSON object: strict UTF-8, no lone surrogates, bounded
    nesting (kefu/text/received.py); anything else is a 400."""
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body


def text_field(body: dict, name: str, default: Optional[str] = None) -> Optional[str]:
    """A field that must be text when present: `"status": []` is a 400, not
    a TypeError deep in a handler."""
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be text")
    return value


async def healthz(request: web.Request) -> web.Response:
    def ping(session: Session) -> None:
        session.execute(text("SELECT 1 FROM tickets LIMIT 1"))

    try:
        await in_db(request, ping)
    except Exception as exc:  # the point is to report any database failure
        return json_error(503, f"database not ready: {exc.__class__.__name__}")
    problem = await rasa_health.model_problem(request.app[HTTP], request.app[SETTINGS])
    if problem:
        return web.json_response(problem, status=503)
    return web.json_response({"status": "ok"})


def client_address(request: web.Request) -> str:
    """The customer's or agent's address, also behind the scaled profile's nginx."""
    forwarded = request.headers.get("X-Real-IP", "").strip()
    if forwarded and request.remote in request.app[SETTINGS].trusted_proxies:
        return forwarded[:64]
    return request.remote or "?"


async def login(request: web.Request) -> web.Response:
    """A bearer token in the body, and the same token as a session cookie."""
    # Login CSRF: another site must not sign a staff browser into its account.
    if not live.same_origin(request):
        return json_error(403, "cross-origin login refused")
    body = await read_json(request)
    name, password = text_field(body, "name"), text_field(body, "password")
    if name is None or password is None:
        return json_error(400, "name and password are required")
    # The look-alike spellings of a name (full-width, compatibility forms)
    # count, and are throttled, as the one account they name.
    counted_as = agents.lookup_name(name)
    ip = client_address(request)
    # The attempt is counted before the password is checked, so parallel
    # guesses cannot all slip in before the first failure is written.
    verdict = await in_db(request, login_limit.admit, counted_as, ip, utcnow())
    if not verdict.allowed:
        return json_error(429, "too many failed logins from this address; try again in 15 minutes "
                               "or ask a supervisor to unlock the account")
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    ttl_hours = request.app[SETTINGS].token_ttl_hours
    try:
        token = await in_db(request, agents.login, name, password, ttl_hours)
    except agents.AgentDisabled as exc:
        # The right password: not a guess, so it does not count against the address.
        await in_db(request, login_limit.clear, counted_as, ip)
        return json_error(403, str(exc))
    if token is None:
        return json_error(401, "wrong name or password")
    await in_db(request, login_limit.clear, counted_as, ip)
    response = web.json_response({"token": token, "csrf_token": web_auth.csrf_token(token)})
    web_auth.set_session(response, token, ttl_hours * 3600)
    return response


async def logout(request: web.Request) -> web.Response:
    await in_db(request, agents.logout, request[TOKEN])
    response = web.json_response({"status": "signed out"})
    web_auth.clear_session(response)
    return response


async def me(request: web.Request) -> web.Response:
    agent = request[AGENT]
    return web.json_response({"id": agent.id, "name": agent.name, "role": agent.role,
                              "csrf_token": web_auth.csrf_token(request[TOKEN])})


async def change_password(request: web.Request) -> web.Response:
    """`{"old", "new"}`: the agent's own password; their other sessions end."""
    body = await read_json(request)
    old, new = text_field(body, "old"), text_field(body, "new")
    if old is None or new is None:
        return json_error(400, "old and new are required")
    try:
        changed = await in_db(request, agents.change_password, request[AGENT].id, old, new, request[TOKEN])
    except agents.BadPassword as exc:
        return json_error(400, str(exc))
    if not changed:
        return json_error(403, "the old password is wrong")
    return web.json_response({"status": "password changed"})


@supervisor_required
async def list_agents(request: web.Request) -> web.Response:
    found = await in_db(request, agents.list_agents)
    return web.json_response({"agents": [agents.agent_to_json(a) for a in found]})


@supervisor_required
async def disable_agent(request: web.Request) -> web.Response:
    """Supervisors: the agent cannot sign in any more and is signed out now."""
    agent_id = _int_param(request, "agent_id")
    if agent_id == request[AGENT].id:
        return json_error(409, "supervisors cannot disable themselves")

    def disable(session: Session):
        found = session.get(agents.Agent, agent_id)
        return found and agents.set_disabled(session, found, True)

    found = await in_db(request, disable)
    if not found:
        return json_error(404, "no such agent")
    return web.json_response({"agent": agents.agent_to_json(found)})


@supervisor_required
async def unlock_agent(request: web.Request) -> web.Response:
    """Supervisors: forget the failed logins for an agent's name, from every address."""
    agent_id = _int_param(request, "agent_id")

    def unlock(session: Session):
        found = session.get(agents.Agent, agent_id)
        if found is not None:
            login_limit.unlock(session, agents.lookup_name(found.name))
        return found

    found = await in_db(request, unlock)
    if found is None:
        return json_error(404, "no such agent")
    return web.json_response({"agent": agents.agent_to_json(found), "unlocked": True})


async def to_desk(request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk")


def page(name: str):
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})
    return serve


async def take_conversation(request: web.Request) -> web.Response:
    """One click: the conversation is this agent's (谁受理谁负责); 409 for a second agent."""
    conversation_id = _int_param(request, "conversation_id")
    try:
        conversation = await in_db(request, conversations.assign, conversation_id, request[AGENT].id)
    except conversations.ConversationTaken as exc:
        return json_error(409, str(exc), "taken")
    except conversations.NotInDesk as exc:
        return json_error(409, str(exc), "not_in_desk")
    if conversation is None:
        return json_error(404, "no such conversation")
    await widget_notice(request, conversation, {"kefu_agent_joined": request[AGENT].name})
    return web.json_response({"conversation": conversations.conversation_to_json(conversation)})


async def customer_orders(request: web.Request) -> web.Response:
    """A shop customer's orders (taobao:<buyer> / tmall:<buyer>), for the conversation view."""
    customer_id = request.match_info["customer_id"]
    platform, _, buyer = customer_id.partition(":")
    found = await in_db(request, orders.orders_of, platform, buyer) if buyer else []
    return web.json_response({"orders": [{
        "order_id": o.order_id, "platform": o.platform, "shop": o.shop, "status": o.status,
        "amount": f"{(o.amount_cents or 0) / 100:.2f}" if o.amount_cents is not None else None,
        "created_at": local_iso(o.created_at)} for o in found]})


async def list_canned(request: web.Request) -> web.Response:
    found = await in_db(request, canned.list_replies)
    return web.json_response({"canned_replies": [canned.reply_to_json(r) for r in found]})


@supervisor_required
async def add_canned(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        reply = await in_db(request, canned.add_reply, body.get("title"), body.get("text"))
    except canned.BadCannedReply as exc:
        return json_error(400, str(exc))
    return web.json_response({"canned_reply": canned.reply_to_json(reply)}, status=201)


@supervisor_required
async def update_canned(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        reply = await in_db(request, canned.update_reply, _int_param(request, "reply_id"),
                            body.get("title"), body.get("text"))
    except canned.BadCannedReply as exc:
        return json_error(400, str(exc))
    if reply is None:
        return json_error(404, "no such canned reply")
    return web.json_response({"canned_reply": canned.reply_to_json(reply)})


@supervisor_required
async def delete_canned(request: web.Request) -> web.Response:
    if not await in_db(request, canned.delete_reply, _int_param(request, "reply_id")):
        return json_error(404, "no such canned reply")
    return web.json_response({"deleted": True})


async def live_updates(request: web.Request) -> web.StreamResponse:
    return await live.live(request, lambda fn, *args: in_db(request, fn, *args), request.app[HTTP],
                           request.app[SETTINGS], agent_reply)


async def widget_js(request: web.Request) -> web.Response:
    """The widget bundled with the socket.io client it needs: one file, no CDN."""
    bundle = (STATIC / "vendor" / "socket.io.min.js").read_text() + "\n" + (STATIC / "widget.js").read_text()
    return web.Response(text=bundle, content_type="application/javascript",
                        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"})


async def widget_demo(request: web.Request) -> web.Response:
    """A page with the widget, to try it (and for the browser tests)."""
    # Empty (the scaled profile): the widget connects to the page's own origin,
    # the load balancer's public port.
    server = os.environ.get("KEFU_PUBLIC_RASA_URL", request.app[SETTINGS].rasa_url) or None
    nonce = security_headers.new_nonce()
    html = ((STATIC / "widget-demo.html").read_text().replace("{{SERVER}}", json.dumps(server))
            .replace("{{NONCE}}", nonce))
    return web.Response(text=html, content_type="text/html", headers={
        "Content-Security-Policy": security_headers.widget_demo_policy(nonce, server)})


async def conversation_messages(request: web.Request) -> web.Response:
    """The whole history, customer and bot turns, read from Rasa's tracker."""
    conversation_id = _int_param(request, "conversation_id")
    found = await in_db(request, lambda s: s.get(conversations.Conversation, conversation_id))
    if found is None:
        return json_error(404, "no such conversation")
    try:
        messages = await read_history(request.app[HTTP], request.app[SETTINGS], found.customer_id)
    except HistoryUnavailable as exc:
        return json_error(502, str(exc))
    return web.json_response({"conversation": conversations.conversation_to_json(found), "messages": messages})


async def list_tickets(request: web.Request) -> web.Response:
    q = request.query
    status = q.get("status")
    if status is not None and status not in TicketStatus.__members__:
        return json_error(400, f"unknown status {status!r}")
    owner = q.get("owner_id")
    found = await in_db(request, partial(
        tickets.list_tickets, customer_id=q.get("customer_id"), status=status, category=q.get("category"),
        channel=q.get("channel"), owner_id=whole_number(owner, "owner_id") if owner is not None else None,
        overdue=q.get("overdue") == "true"))
    return web.json_response({"tickets": [tickets.ticket_to_json(t) for t in found]})


async def ticket_detail(request: web.Request) -> web.Response:
    ticket_id = _int_param(request, "ticket_id")
    found = await in_db(request, lambda s: s.get(tickets.Ticket, ticket_id))
    if found is None:
        return json_error(404, "no such ticket")
    events = await in_db(request, ticket_flow.timeline, ticket_id)
    return web.json_response({"ticket": tickets.ticket_to_json(found), "timeline": events})


async def move_ticket(request: web.Request) -> web.Response:
    body = await read_json(request)
    to, note = text_field(body, "status"), text_field(body, "note") or ""
    if to not in TicketStatus.__members__:
        return json_error(400, "status must be one of " + ", ".join(TicketStatus.__members__))
    try:
        moved = await in_db(request, ticket_flow.move, _int_param(request, "ticket_id"), request[AGENT], to,
                            note[:500])
    except ticket_flow.TicketMoveRefused as exc:
        return json_error(exc.status, str(exc))
    survey_sent = False
    if moved.status == TicketStatus.closed.value:
        # 满意度调查 on the customer's own channel, once per ticket.
        survey = await in_db(request, surveys.open_survey, moved)
        if survey is not None:
            failed = await post_events(request, moved.customer_id,
                                       [{"event": "bot", "text": surveys.question(moved)}], moved.channel)
            survey_sent = failed is None
            if failed is not None:
                # Not asked, so nothing the customer says later is read as a score.
                await in_db(request, surveys.forget, survey.id)
                log.warning("survey for ticket %s not delivered", moved.id)
    return web.json_response({"ticket": tickets.ticket_to_json(moved), "survey_sent": survey_sent})


async def list_followups(request: web.Request) -> web.Response:
    found = await in_db(request, ticket_flow.open_followups)
    return web.json_response({"followups": [ticket_flow.followup_to_json(f) for f in found]})


async def complete_followup(request: web.Request) -> web.Response:
    body = await read_json(request)
    note = text_field(body, "note") or ""
    try:
        done = await in_db(request, ticket_flow.complete_followup, _int_param(request, "followup_id"),
                           request[AGENT], note[:500])
    except ticket_flow.TicketMoveRefused as exc:
        return json_error(exc.status, str(exc))
    if done is None:
        return json_error(404, "no such follow-up")
    return web.json_response({"followup": ticket_flow.followup_to_json(done)})


@supervisor_required
async def weekly_report(request: web.Request) -> web.Response:
    """Supervisors only; `?format=csv` downloads it."""
    try:
        report = await in_db(request, reports.weekly, request.query.get("week"), utcnow())
    except reports.BadWeek as exc:
        return json_error(400, str(exc))
    if request.query.get("format") == "csv":
        return web.Response(text=reports.to_csv(report), content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="kefu-report-{report["week"]}.csv"'})
    return web.json_response(report)


async def take_ticket(request: web.Request) -> web.Response:
    ticket_id = _int_param(request, "ticket_id")
    try:
        ticket = await in_db(request, tickets.take_ticket, ticket_id, request[AGENT].id,
                             request[AGENT].role == "supervisor")
    except tickets.TicketAlreadyOwned as exc:
        return json_error(409, str(exc))
    if ticket is None:
        return json_error(404, "no such ticket")
    return web.json_response({"ticket": tickets.ticket_to_json(ticket)})


async def list_conversations(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status is not None and status not in ConversationStatus.__members__:
        return json_error(400, f"unknown status {status!r}")
    found = await in_db(request, conversations.list_conversations, status)
    return web.json_response({"conversations": [conversations.conversation_to_json(c) for c in found]})


async def post_events(request: web.Request, customer_id: str, events: list,
                      output_channel: Optional[str] = None) -> Optional[web.Response]:
    """Add events to the customer's Rasa conversation (and, with an output
    channel, deliver its bot messages there). An error response, or None."""
    settings = request.app[SETTINGS]
    url = conversation_url(settings.rasa_url, customer_id, "/tracker/events")
    params = {"output_channel": output_channel, "execute_side_effects": "true"} if output_channel else {}
    if settings.rasa_token:
        params["token"] = settings.rasa_token
    try:
        async with request.app[HTTP].post(url, json=events, params=params) as resp:
            if resp.status >= 300:
                return json_error(502, f"Rasa refused the events: HTTP {resp.status}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        # A timeout may come after Rasa delivered: the agent sees an error and
        # the history (read again) tells whether the reply is there.
        return json_error(502, f"Rasa unreachable: {exc.__class__.__name__}")
    return None


async def widget_notice(request: web.Request, conversation, notice: dict) -> None:
    """The web widget shows who is serving the customer; other channels need no notice."""
    if conversation.channel == "socketio":
        failed = await post_events(request, conversation.customer_id,
                                   [{"event": "bot", "text": None, "data": {"custom": notice}}], "socketio")
        if failed is not None:
            log.warning("widget notice for %s not delivered", conversation.customer_id)


async def resume_conversation(request: web.Request) -> web.Response:
    """Return a handed-off conversation to the bot (Rasa ConversationResumed)."""
    return await hand_back(request, conversations.return_to_bot)


async def hand_back(request: web.Request, record: Callable[..., Any]) -> web.Response:
    """Resume the bot in Rasa, then `record` the conversation's new state
    (back to the bot, or closed) and tell the widget the agent has left."""
    conversation_id = _int_param(request, "conversation_id")
    found = await in_db(request, lambda s: s.get(conversations.Conversation, conversation_id))
    if found is None:
        return json_error(404, "no such conversation")
    refused = not_serving(request, found)
    if refused is not None:
        return refused
    # action_listen after the resume: the customer's next message then
    # starts a fresh turn that the rules recognise.
    failed = await post_events(request, found.customer_id,
                               [{"event": "resume"}, {"event": "action", "name": "action_listen"}])
    if failed is not None:
        return failed
    updated = await in_db(request, record, conversation_id)
    await widget_notice(request, updated, {"kefu_agent_left": True})
    return web.json_response({"conversation": conversations.conversation_to_json(updated)})


def not_serving(request: web.Request, conversation) -> Optional[web.Response]:
    """Handing back or closing is for the agent serving it (or a supervisor):
    another agent must not get round the 409 of a take-over this way."""
    if conversation.assignee_id not in (None, request[AGENT].id) and request[AGENT].role != "supervisor":
        return json_error(403, "only the agent serving this conversation or a supervisor may do this")
    return None


async def close_conversation(request: web.Request) -> web.Response:
    """The agent is done: the conversation leaves the desk, and the customer's
    next message is answered by the bot again (a new conversation)."""
    return await hand_back(request, conversations.close_conversation)


async def list_undelivered(request: web.Request) -> web.Response:
    """Texts a platform refused (e.g. WeChat 45015): an agent follows up."""
    rows = await in_db(request, partial(deliveries.list_undelivered,
                                        customer_id=request.query.get("customer_id")))
    return web.json_response({"undelivered": [deliveries.undelivered_to_json(r) for r in rows]})


async def list_reminders(request: web.Request) -> web.Response:
    """The reminder outbox; `?status=uncertain` lists those an agent must check
    with the customer (the worker stopped mid-call, so they are never resent)."""
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in ReminderStatus}:
        return json_error(400, f"unknown status {status!r}")
    limit = whole_number(request.query.get("limit", "200"), "limit", 1, 1000)
    rows = await in_db(request, partial(reminder_outbox.list_reminders, status=status, limit=limit))
    counts = await in_db(request, reminder_outbox.counts)
    return web.json_response({"counts": counts,
                              "reminders": [reminder_outbox.reminder_to_json(r) for r in rows]})


MAX_REPLY_CHARS = 2000


async def reply_to_conversation(request: web.Request) -> web.Response:
    """An agent's answer, delivered on the customer's own channel by Rasa.

    Rasa records it as a bot turn and sends it through the channel's output
    (WeChat 客服消息, socket.io …), so history and delivery stay in one place.
    """
    body = await read_json(request)
    return await agent_reply(request, _int_param(request, "conversation_id"), body.get("text"))


async def agent_reply(request: web.Request, conversation_id: int, text_: Any) -> web.Response:
    """Shared by the reply endpoint and the desk's websocket."""
    if not isinstance(text_, str) or not text_.strip():
        return json_error(400, "text must be a non-empty string")
    # The websocket's replies come here too: Rasa must never get a lone surrogate.
    if not is_valid_text(text_):
        return json_error(400, "'text' is not valid UTF-8 text")
    if len(text_) > MAX_REPLY_CHARS:
        return json_error(400, f"text longer than {MAX_REPLY_CHARS} characters")
    agent = request[AGENT]
    try:
        conversation = await in_db(request, conversations.assign, conversation_id, agent.id)
    except conversations.ConversationTaken as exc:
        return json_error(409, str(exc), "taken")
    except conversations.NotInDesk as exc:
        return json_error(409, str(exc), "not_in_desk")
    if conversation is None:
        return json_error(404, "no such conversation")
    checked = check_outgoing(text_.strip(), conversation.channel, conversation.customer_id)
    event = {"event": "bot", "text": checked, "metadata": {"agent": agent.name}}
    failed = await post_events(request, conversation.customer_id, [event], conversation.channel)
    if failed is not None:
        return failed
    return web.json_response({"conversation": conversations.conversation_to_json(conversation),
                              "sent_text": checked})


def _int_param(request: web.Request, name: str) -> int:
    return whole_number(request.match_info[name], name)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=1024 * 1024)
    app.on_response_prepare.append(security_headers.add)
    app[SETTINGS] = settings
    app[STORE] = ThreadedSessions(settings.database_url)

    async def http_client(app: web.Application):
        app[HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        yield
        await app[HTTP].close()
        app[STORE].dispose()

    app.cleanup_ctx.append(http_client)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", to_desk)
    app.router.add_get("/login", page("login.html"))
    app.router.add_get("/desk", page("desk.html"))
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/widget-demo", widget_demo)
    app.router.add_static("/static", STATIC)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/me/password", change_password)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_post("/api/agents/{agent_id}/disable", disable_agent)
    app.router.add_post("/api/agents/{agent_id}/unlock", unlock_agent)
    app.router.add_get("/api/live", live_updates)
    app.router.add_get("/api/customers/{customer_id}/orders", customer_orders)
    app.router.add_get("/api/canned-replies", list_canned)
    app.router.add_post("/api/canned-replies", add_canned)
    app.router.add_put("/api/canned-replies/{reply_id}", update_canned)
    app.router.add_delete("/api/canned-replies/{reply_id}", delete_canned)
    app.router.add_post("/api/conversations/{conversation_id}/take", take_conversation)
    app.router.add_get("/api/conversations/{conversation_id}/messages", conversation_messages)
    app.router.add_get("/api/tickets", list_tickets)
    app.router.add_post("/api/tickets/{ticket_id}/take", take_ticket)
    app.router.add_get("/api/tickets/{ticket_id}", ticket_detail)
    app.router.add_post("/api/tickets/{ticket_id}/status", move_ticket)
    app.router.add_get("/api/followups", list_followups)
    app.router.add_post("/api/followups/{followup_id}/done", complete_followup)
    app.router.add_get("/api/reports/weekly", weekly_report)
    app.router.add_get("/tickets", page("tickets.html"))
    app.router.add_get("/reports", page("reports.html"))
    app.router.add_get("/api/conversations", list_conversations)
    app.router.add_post("/api/conversations/{conversation_id}/resume", resume_conversation)
    app.router.add_post("/api/conversations/{conversation_id}/reply", reply_to_conversation)
    app.router.add_post("/api/conversations/{conversation_id}/close", close_conversation)
    app.router.add_get("/api/undelivered", list_undelivered)
    app.router.add_get("/api/reminders", list_reminders)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s desk %(levelname)s %(message)s")
    settings = load_settings()
    upgrade(settings.database_url)
    web.run_app(create_app(settings), host=settings.desk_host, port=settings.desk_port, access_log=None)
