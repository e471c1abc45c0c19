"""The desk's routing loop: waiting conversations reach a free agent by
themselves (kefu.core.routing.route), checked several times a second.

Every desk process runs one; the routing lock makes them take turns, so two
desks never assign the same conversation or overfill an agent. A web
customer is told who serves them, as when an agent takes a conversation by
hand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from kefu.core import routing
from kefu.core.models import Agent
from kefu.desk.rasa_client import RasaUnavailable
from kefu.desk.requests import RASA, SETTINGS, STORE

log = logging.getLogger(__name__)
ROUTE_EVERY = 0.1  # seconds between passes while nothing changes


def _names(session: Session, agent_ids: list[int]) -> dict[int, str]:
    return dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))).all())


async def _tell(app: web.Application, made: list[routing.Assignment]) -> None:
    widget = [a for a in made if a.channel == "socketio"]
    if not widget:
        return
    names = await app[STORE].run(_names, sorted({a.agent_id for a in widget}))
    for assignment in widget:
        try:
            await app[RASA].widget_notice(assignment.customer_id, {"kefu_agent_joined": names.get(assignment.agent_id)})
        except RasaUnavailable:
            log.warning("widget notice for %s not delivered", assignment.customer_id)


async def route_once(app: web.Application) -> list[routing.Assignment]:
    if not await app[STORE].run(routing.pending):
        return []
    timeout = timedelta(seconds=app[SETTINGS].presence_timeout)
    made = await app[STORE].run(routing.route, None, timeout)
    for assignment in made:
        log.info("assigned conversation %d to agent %d", assignment.conversation_id, assignment.agent_id)
    if made:
        await _tell(app, made)
    return made


async def routing_loop(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the loop runs while the desk does."""

    async def run() -> None:
        while True:
            try:
                await route_once(app)
            except OperationalError as exc:  # the database restarting, or busy: the next pass retries
                log.warning("routing pass failed: %s", exc.__class__.__name__)
                await asyncio.sleep(1.0)
            except Exception:  # never let one bad pass stop routing for good
                log.exception("routing pass failed")
                await asyncio.sleep(1.0)
            await asyncio.sleep(ROUTE_EVERY)

    task = asyncio.create_task(run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
