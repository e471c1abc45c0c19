"""Signing in and out, the signed-in agent, and their own password."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kefu.core import agents, login_limit
from kefu.core.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from kefu.core.models import utcnow
from kefu.desk import auth as web_auth
from kefu.desk.requests import AGENT, SETTINGS, TOKEN, client_address, in_db, read_json, same_origin, text_field


async def login(request: web.Request) -> web.Response:
    """A bearer token in the body, and the same token as a session cookie."""
    # Login CSRF: another site must not sign a staff browser into its account.
    if not same_origin(request):
        raise Forbidden("cross-origin login refused")
    body = await read_json(request)
    name, password = text_field(body, "name"), text_field(body, "password")
    if name is None or password is None:
        raise BadRequest("name and password are required")
    # The look-alike spellings of a name (full-width, compatibility forms)
    # count, and are throttled, as the one account they name.
    counted_as = agents.lookup_name(name)
    ip = client_address(request)
    # The attempt is counted before the password is checked, so parallel
    # guesses cannot all slip in before the first failure is written.
    verdict = await in_db(request, login_limit.admit, counted_as, ip, utcnow())
    if not verdict.allowed:
        raise TooManyRequests(
            "too many failed logins from this address; try again in 15 minutes "
            "or ask a supervisor to unlock the account"
        )
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    ttl_hours = request.app[SETTINGS].token_ttl_hours
    try:
        token = await in_db(request, agents.login, name, password, ttl_hours)
    except agents.AgentDisabled:
        # The right password: not a guess, so it does not count against the address.
        await in_db(request, login_limit.clear, counted_as, ip)
        raise
    if token is None:
        raise Unauthorized("wrong name or password")
    await in_db(request, login_limit.clear, counted_as, ip)
    response = web.json_response({"token": token, "csrf_token": web_auth.csrf_token(token)})
    web_auth.set_session(response, token, ttl_hours * 3600, request.app[SETTINGS].secure_cookies)
    return response


async def logout(request: web.Request) -> web.Response:
    await in_db(request, agents.logout, request[TOKEN])
    response = web.json_response({"status": "signed out"})
    web_auth.clear_session(response)
    return response


async def me(request: web.Request) -> web.Response:
    agent = request[AGENT]
    return web.json_response(
        {"id": agent.id, "name": agent.name, "role": agent.role, "csrf_token": web_auth.csrf_token(request[TOKEN])}
    )


async def change_password(request: web.Request) -> web.Response:
    """`{"old", "new"}`: the agent's own password; their other sessions end.
    A new password the rules refuse is agents.BadPassword, a 400."""
    body = await read_json(request)
    old, new = text_field(body, "old"), text_field(body, "new")
    if old is None or new is None:
        raise BadRequest("old and new are required")
    changed = await in_db(request, agents.change_password, request[AGENT].id, old, new, request[TOKEN])
    if not changed:
        raise Forbidden("the old password is wrong")
    return web.json_response({"status": "password changed"})
