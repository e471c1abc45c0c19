"""`GET /api/search?q=`: the desk's search box (kefu.core.search)."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from kefu.core import search as finder
from kefu.desk.requests import in_db


async def search(request: web.Request) -> web.Response:
    found = await in_db(request, partial(finder.search, query=request.query.get("q", "")))
    return web.json_response(found)
