"""`GET /api/wall`: the supervisor's live wall (kefu.core.wall)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from kefu.core import wall as board
from kefu.core.permissions import is_supervisor
from kefu.desk.requests import SETTINGS, in_db, supervisor_required


@supervisor_required(is_supervisor)
async def wall(request: web.Request) -> web.Response:
    timeout = timedelta(seconds=request.app[SETTINGS].presence_timeout)
    return web.json_response(await in_db(request, lambda s: board.wall(s, None, timeout)))
