"""Agent accounts, for supervisors: disable, unlock (the list is kefu.desk.views.routing's)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.orm import Session

from kefu.core import agents, login_limit
from kefu.core.errors import Conflict, NotFound
from kefu.core.permissions import can_manage_agents
from kefu.desk.requests import AGENT, in_db, int_param, supervisor_required


@supervisor_required(can_manage_agents)
async def disable_agent(request: web.Request) -> web.Response:
    """The agent cannot sign in any more and is signed out now."""
    agent_id = int_param(request, "agent_id")
    if agent_id == request[AGENT].id:
        raise Conflict("supervisors cannot disable themselves")

    def disable(session: Session):
        found = session.get(agents.Agent, agent_id)
        return found and agents.set_disabled(session, found, True)

    found = await in_db(request, disable)
    if not found:
        raise NotFound("no such agent")
    return web.json_response({"agent": agents.agent_to_json(found)})


@supervisor_required(can_manage_agents)
async def unlock_agent(request: web.Request) -> web.Response:
    """Forget the failed logins for an agent's name, from every address."""
    agent_id = int_param(request, "agent_id")

    def unlock(session: Session):
        found = session.get(agents.Agent, agent_id)
        if found is not None:
            login_limit.unlock(session, agents.lookup_name(found.name))
        return found

    found = await in_db(request, unlock)
    if found is None:
        raise NotFound("no such agent")
    return web.json_response({"agent": agents.agent_to_json(found), "unlocked": True})
