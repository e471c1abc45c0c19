"""Canned replies (常用语): every agent reads them, supervisors edit them.
A title or text out of bounds is canned.BadCannedReply, a 400."""

from __future__ import annotations

from aiohttp import web

from kefu.core import canned
from kefu.core.errors import NotFound
from kefu.core.permissions import can_edit_canned_replies
from kefu.desk.requests import in_db, int_param, read_json, supervisor_required


async def list_canned(request: web.Request) -> web.Response:
    found = await in_db(request, canned.list_replies)
    return web.json_response({"canned_replies": [canned.reply_to_json(r) for r in found]})


@supervisor_required(can_edit_canned_replies)
async def add_canned(request: web.Request) -> web.Response:
    body = await read_json(request)
    reply = await in_db(request, canned.add_reply, body.get("title"), body.get("text"))
    return web.json_response({"canned_reply": canned.reply_to_json(reply)}, status=201)


@supervisor_required(can_edit_canned_replies)
async def update_canned(request: web.Request) -> web.Response:
    body = await read_json(request)
    reply = await in_db(
        request, canned.update_reply, int_param(request, "reply_id"), body.get("title"), body.get("text")
    )
    if reply is None:
        raise NotFound("no such canned reply")
    return web.json_response({"canned_reply": canned.reply_to_json(reply)})


@supervisor_required(can_edit_canned_replies)
async def delete_canned(request: web.Request) -> web.Response:
    if not await in_db(request, canned.delete_reply, int_param(request, "reply_id")):
        raise NotFound("no such canned reply")
    return web.json_response({"deleted": True})
