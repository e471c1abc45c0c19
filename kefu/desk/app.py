"""The desk's web app (aiohttp): middlewares, the route table, start-up and
clean-up. The handlers are in kefu/desk/views/, one module per resource."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from kefu.core import agents, kb_files
from kefu.core.db import ThreadedSessions, upgrade
from kefu.core.errors import Forbidden, KefuError, Unauthorized
from kefu.core.knowledge import KnowledgeCache
from kefu.core.settings import Settings, load_settings
from kefu.desk import auth as web_auth
from kefu.desk import security_headers
from kefu.desk.live_events import live_events
from kefu.desk.rasa_client import RasaClient
from kefu.desk.requests import AGENT, KNOWLEDGE, RASA, SETTINGS, STORE, TOKEN, in_db
from kefu.desk.router import routing_loop
from kefu.desk.views import agents as agent_views
from kefu.desk.views import (
    canned,
    conversations,
    customers,
    health,
    knowledge,
    learning,
    live,
    media,
    models,
    pages,
    reminders,
    reports,
    search,
    session,
    tickets,
    wall,
)
from kefu.desk.views import routing as routing_views
from kefu.desk.views import widget as widget_views
from kefu.desk.waiting_room import waiting_room
from kefu.text.received import InvalidInput, is_valid_text

log = logging.getLogger(__name__)


def json_error(status: int, message: str, code: str | None = None) -> web.Response:
    """`code`, where given, lets the desk's page tell two refusals of one status apart."""
    return web.json_response({"error": message, **({"code": code} if code else {})}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """The one place a refused request becomes a JSON error: whatever a
    client sends (odd ids, deep or mistyped JSON, broken text) ends as a
    4xx with a message, never as a traceback and a 500. Handlers and the
    core raise KefuError (its status, `{"error", "code"?}`)."""
    try:
        return await handler(request)
    except KefuError as exc:
        return web.json_response(exc.as_json(), status=exc.status)
    except InvalidInput as exc:  # kefu.text's own refusal (text imports nothing of the core)
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


# The customer-facing routes of the widget; no agent credential, CORS open.
WIDGET_API = "/api/widget/"


@web.middleware
async def auth_middleware(request: web.Request, handler):
    """Every /api/ call but the login and the widget's is an agent's: request[AGENT] and request[TOKEN].

    Under /api/widget/ the customer's own widget calls with its random `web-…`
    session id in the path as the only credential (issue 13: history, uploads)."""
    if request.path.startswith("/api/") and request.path != "/api/login" and not request.path.startswith(WIDGET_API):
        token, from_cookie = web_auth.credentials(request)
        if not token:
            raise Unauthorized("missing bearer token or session cookie")
        # Header bytes that are not UTF-8 arrive as lone surrogates: no token has them.
        if not is_valid_text(token):
            raise Unauthorized("invalid or expired token")
        agent = await in_db(request, agents.agent_for_token, token)
        if agent is None:
            raise Unauthorized("invalid or expired token")
        if from_cookie and not web_auth.csrf_ok(request, token):
            raise Forbidden(f"missing or wrong {web_auth.CSRF_HEADER} header")
        request[AGENT] = agent
        request[TOKEN] = token
    return await handler(request)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/healthz", health.healthz)
    router.add_get("/", pages.to_desk)
    router.add_get("/login", pages.page("login.html"))
    router.add_get("/desk", pages.page("desk.html"))
    router.add_get("/widget.js", pages.widget_js)
    router.add_get("/widget-demo", pages.widget_demo)
    router.add_static("/static", pages.STATIC)
    router.add_post("/api/login", session.login)
    router.add_post("/api/logout", session.logout)
    router.add_get("/api/me", session.me)
    router.add_post("/api/me/password", session.change_password)
    router.add_get("/api/agents", routing_views.list_agents)
    router.add_put("/api/agents/{agent_id}", routing_views.set_agent)
    router.add_post("/api/me/status", routing_views.set_my_status)
    router.add_get("/api/groups", routing_views.list_groups)
    router.add_put("/api/groups/{name}", routing_views.put_group)
    router.add_post("/api/agents/{agent_id}/disable", agent_views.disable_agent)
    router.add_post("/api/agents/{agent_id}/unlock", agent_views.unlock_agent)
    router.add_get("/api/live", live.live_updates)
    router.add_get("/api/customers/{customer_id}/orders", customers.customer_orders)
    router.add_get("/api/customers/{customer_id}/card", customers.customer_card_view)
    router.add_get("/api/canned-replies", canned.list_canned)
    router.add_post("/api/canned-replies", canned.add_canned)
    router.add_put("/api/canned-replies/{reply_id}", canned.update_canned)
    router.add_delete("/api/canned-replies/{reply_id}", canned.delete_canned)
    router.add_post("/api/conversations/{conversation_id}/take", conversations.take_conversation)
    router.add_get("/api/conversations/{conversation_id}/messages", conversations.conversation_messages)
    router.add_get("/api/tickets", tickets.list_tickets)
    router.add_post("/api/tickets/{ticket_id}/take", tickets.take_ticket)
    router.add_get("/api/tickets/{ticket_id}", tickets.ticket_detail)
    router.add_post("/api/tickets/{ticket_id}/status", tickets.move_ticket)
    router.add_get("/api/followups", tickets.list_followups)
    router.add_post("/api/followups/{followup_id}/done", tickets.complete_followup)
    router.add_get("/api/reports/weekly", reports.weekly_report)
    router.add_get("/tickets", pages.page("tickets.html"))
    router.add_get("/reports", pages.page("reports.html"))
    router.add_get("/wall", pages.page("wall.html"))
    router.add_get("/api/wall", wall.wall)
    router.add_get("/knowledge", pages.page("knowledge.html"))
    router.add_get("/learning", pages.page("learning.html"))
    router.add_get("/api/conversations", conversations.list_conversations)
    router.add_get("/api/search", search.search)
    router.add_post("/api/conversations/{conversation_id}/resume", conversations.resume_conversation)
    router.add_post("/api/conversations/{conversation_id}/reply", conversations.reply_to_conversation)
    router.add_post("/api/conversations/{conversation_id}/close", conversations.close_conversation)
    router.add_post("/api/conversations/{conversation_id}/transfer", conversations.transfer_conversation)
    router.add_get("/api/conversations/{conversation_id}/notes", conversations.list_notes)
    router.add_post("/api/conversations/{conversation_id}/notes", conversations.add_note)
    router.add_get("/api/undelivered", customers.list_undelivered)
    router.add_get("/api/reminders", reminders.list_reminders)
    router.add_get(WIDGET_API + "{session_id}/history", widget_views.widget_history)
    # Photos and files (issue 13): the widget's upload and pictures, the agents' view.
    router.add_post("/api/widget/{session_id}/media", media.widget_upload)
    router.add_route("OPTIONS", "/api/widget/{session_id}/media", media.widget_preflight)
    router.add_get("/api/widget/{session_id}/media", media.widget_media_list)
    router.add_get("/api/widget/{session_id}/media/{media_id}", media.widget_media)
    router.add_get("/api/media/{media_id}", media.agent_media)
    router.add_get("/api/customers/{customer_id}/media", media.customer_media)
    # 知识库 (issue 14).
    router.add_get("/api/kb", knowledge.list_kb)
    router.add_get("/api/kb/suggest", knowledge.suggest)
    router.add_post("/api/kb", knowledge.add_kb)
    router.add_put("/api/kb/{entry_id}", knowledge.update_kb)
    router.add_delete("/api/kb/{entry_id}", knowledge.delete_kb)
    router.add_get("/api/learning", learning.list_learning)
    router.add_post("/api/learning/{item_id}/label", learning.label_item)
    router.add_post("/api/learning/{item_id}/kb", learning.attach_item)
    router.add_post("/api/learning/{item_id}/ignore", learning.ignore_item)
    router.add_get("/api/models", models.list_models)
    router.add_post("/api/models/train", models.train)
    router.add_post("/api/models/{model_id}/activate", models.activate)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=1024 * 1024)
    app.on_response_prepare.append(security_headers.add)
    app[SETTINGS] = settings
    app[STORE] = ThreadedSessions(settings.database_url)
    app[KNOWLEDGE] = KnowledgeCache()

    async def rasa_client(app: web.Application):
        app[RASA] = RasaClient(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)), settings)
        yield
        await app[RASA].close()
        app[STORE].dispose()

    app.cleanup_ctx.append(rasa_client)
    app.cleanup_ctx.append(routing_loop)
    app.cleanup_ctx.append(waiting_room)
    app.cleanup_ctx.append(live_events)

    async def start_knowledge(app: web.Application) -> None:
        # A new installation's starter knowledge (KEFU_BUSINESS), once.
        await app[STORE].run(kb_files.start, settings.businesses)

    app.on_startup.append(start_knowledge)
    add_routes(app.router)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s desk %(levelname)s %(message)s")
    settings = load_settings()
    upgrade(settings.database_url)
    web.run_app(create_app(settings), host=settings.desk_host, port=settings.desk_port, access_log=None)
