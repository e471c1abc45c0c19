"""待学习 over HTTP (supervisors): what the bot did not understand, and the
three ways to teach it (label with an intent, attach to a knowledge-base
entry, ignore)."""

from __future__ import annotations

from aiohttp import web

from kefu.core import learning
from kefu.core.permissions import can_teach_bot
from kefu.desk.requests import AGENT, in_db, int_param, read_json, supervisor_required


def _one(item) -> web.Response:
    return web.json_response({"item": learning.item_to_json(item)})


@supervisor_required(can_teach_bot)
async def list_learning(request: web.Request) -> web.Response:
    status = request.query.get("status", "open") or None
    found = await in_db(request, learning.list_items, None if status == "all" else status)
    return web.json_response({"items": [learning.item_to_json(i) for i in found]})


@supervisor_required(can_teach_bot)
async def label_item(request: web.Request) -> web.Response:
    body = await read_json(request)
    item_id = int_param(request, "item_id")
    return _one(await in_db(request, learning.label, item_id, body.get("intent"), request[AGENT].name))


@supervisor_required(can_teach_bot)
async def attach_item(request: web.Request) -> web.Response:
    body = await read_json(request)
    item_id = int_param(request, "item_id")
    return _one(await in_db(request, learning.attach, item_id, body.get("kb_id"), request[AGENT].name))


@supervisor_required(can_teach_bot)
async def ignore_item(request: web.Request) -> web.Response:
    return _one(await in_db(request, learning.ignore, int_param(request, "item_id"), request[AGENT].name))
