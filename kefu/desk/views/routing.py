"""Routing's API: an agent's presence, the agents with their load, and the
skill groups supervisors edit (kefu.core.routing)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from kefu.core import routing
from kefu.core.errors import BadRequest
from kefu.core.models import utcnow
from kefu.core.permissions import can_manage_agents, is_supervisor
from kefu.desk.requests import AGENT, SETTINGS, in_db, int_param, read_json, supervisor_required


def _timeout(request: web.Request) -> timedelta:
    return timedelta(seconds=request.app[SETTINGS].presence_timeout)


async def set_my_status(request: web.Request) -> web.Response:
    """POST /api/me/status {"status": "online"|"busy"|"away"|"offline"}."""
    body = await read_json(request)
    status = body.get("status")
    if status not in routing.STATUSES:
        raise BadRequest(f"status must be one of {', '.join(routing.STATUSES)}")
    agent = await in_db(request, routing.set_status, request[AGENT].id, status)
    return web.json_response({"status": routing.presence(agent, utcnow(), _timeout(request))})


async def list_agents(request: web.Request) -> web.Response:
    """Every agent with presence and load; supervisors also see disabled accounts."""
    found = await in_db(request, routing.list_agents, can_manage_agents(request[AGENT]))
    return web.json_response({"agents": found})


@supervisor_required(is_supervisor)
async def set_agent(request: web.Request) -> web.Response:
    """PUT /api/agents/{id} {"capacity", "groups"} (supervisors)."""
    body = await read_json(request)
    agent = await in_db(request, routing.set_agent, int_param(request, "agent_id"), body)
    return web.json_response({"agent": agent})


async def list_groups(request: web.Request) -> web.Response:
    found = await in_db(request, routing.list_groups)
    return web.json_response({"groups": [routing.group_to_json(g) for g in found]})


@supervisor_required(is_supervisor)
async def put_group(request: web.Request) -> web.Response:
    """PUT /api/groups/{name} {"intents","categories","channels","hours","holidays"} (supervisors)."""
    body = await read_json(request)
    group = await in_db(request, routing.put_group, request.match_info["name"], body)
    return web.json_response({"group": routing.group_to_json(group)})
