"""`GET /healthz`: the database answers and Rasa has a model."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.orm import Session

from kefu.core.errors import Unavailable
from kefu.desk.requests import RASA, in_db


async def healthz(request: web.Request) -> web.Response:
    def ping(session: Session) -> None:
        session.execute(text("SELECT 1 FROM tickets LIMIT 1"))

    try:
        await in_db(request, ping)
    except Exception as exc:  # the point is to report any database failure
        raise Unavailable(f"database not ready: {exc.__class__.__name__}") from exc
    problem = await request.app[RASA].model_problem()
    if problem:
        return web.json_response(problem, status=503)
    return web.json_response({"status": "ok"})
