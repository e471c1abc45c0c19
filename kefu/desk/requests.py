"""What every view needs from a request: the app's store, settings and Rasa
client, the signed-in agent, the body and path parameters read safely, and
the supervisors-only guard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlparse

from aiohttp import web

from kefu.core.db import ThreadedSessions
from kefu.core.errors import Forbidden
from kefu.core.knowledge import KnowledgeCache
from kefu.core.settings import Settings
from kefu.desk.rasa_client import RasaClient
from kefu.text.received import InvalidInput, parse_json, whole_number

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STORE = web.AppKey("store", ThreadedSessions)
SETTINGS = web.AppKey("settings", Settings)
RASA = web.AppKey("rasa", RasaClient)
KNOWLEDGE = web.AppKey("knowledge", KnowledgeCache)  # the index behind the agents' suggestions
AGENT = "agent"  # request[AGENT]: the signed-in agent (kefu.core.models.Agent)
TOKEN = "token"  # request[TOKEN]: their session token


async def in_db(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in a thread with its own session."""
    return await request.app[STORE].run(fn, *args)


def supervisor_required(check: Callable[[Any], bool]) -> Callable[[Handler], Handler]:
    """A handler for supervisors only (`check` is the kefu.core.permissions
    check it needs): anyone else gets 403 before it runs."""

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if not check(request[AGENT]):
                raise Forbidden("only supervisors may do this")
            return await handler(request)

        return checked

    return decorate


async def read_json(request: web.Request) -> dict:
    """The body as a JSON object: strict UTF-8, no lone surrogates, bounded
    nesting (kefu/text/received.py); anything else is a 400."""
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body


def text_field(body: dict, name: str, default: str | None = None) -> str | None:
    """A field that must be text when present: `"status": []` is a 400, not
    a TypeError deep in a handler."""
    value = body.get(name, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be text")
    return value


def int_param(request: web.Request, name: str) -> int:
    """A path parameter that must be a whole number (`/api/tickets/{ticket_id}`)."""
    return whole_number(request.match_info[name], name)


def client_address(request: web.Request) -> str:
    """The customer's or agent's address, also behind the scaled profile's nginx."""
    forwarded = request.headers.get("X-Real-IP", "").strip()
    if forwarded and request.remote in request.app[SETTINGS].trusted_proxies:
        return forwarded[:64]
    return request.remote or "?"


def same_origin(request: web.Request) -> bool:
    """Browsers send cookies on cross-site websocket handshakes too (no CSRF
    header possible there), so the page must come from the desk itself."""
    origin = request.headers.get("Origin")
    return origin is None or urlparse(origin).netloc == request.host
