"""知识库 over HTTP: every agent reads and searches, supervisors edit.
`GET /api/kb/suggest` is the agent assist: the best entries for a text."""

from __future__ import annotations

from aiohttp import web

from kefu.core import knowledge
from kefu.core.errors import BadRequest, NotFound
from kefu.core.permissions import can_edit_knowledge
from kefu.desk.requests import AGENT, KNOWLEDGE, in_db, int_param, read_json, supervisor_required

MAX_QUERY = 500


def query_text(request: web.Request, name: str, required: bool) -> str | None:
    value = request.query.get(name)
    if value is None or not value.strip():
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if len(value) > MAX_QUERY:
        raise BadRequest(f"{name} must be at most {MAX_QUERY} characters")
    return value


async def list_kb(request: web.Request) -> web.Response:
    found = await in_db(request, knowledge.list_entries, query_text(request, "q", required=False))
    return web.json_response({"entries": [knowledge.entry_to_json(e) for e in found]})


async def suggest(request: web.Request) -> web.Response:
    text = query_text(request, "text", required=True)
    cache = request.app[KNOWLEDGE]
    found = await in_db(request, lambda s: cache.current(s).search(text or "", 3))
    return web.json_response(
        {"suggestions": [{"id": f.id, "question": f.question, "answer": f.answer, "score": f.score} for f in found]}
    )


@supervisor_required(can_edit_knowledge)
async def add_kb(request: web.Request) -> web.Response:
    body = await read_json(request)
    entry = await in_db(request, knowledge.add_entry, body, request[AGENT].name)
    return web.json_response({"id": entry.id, "entry": knowledge.entry_to_json(entry)}, status=201)


@supervisor_required(can_edit_knowledge)
async def update_kb(request: web.Request) -> web.Response:
    body = await read_json(request)
    entry = await in_db(request, knowledge.update_entry, int_param(request, "entry_id"), body, request[AGENT].name)
    if entry is None:
        raise NotFound("no such knowledge-base entry")
    return web.json_response({"id": entry.id, "entry": knowledge.entry_to_json(entry)})


@supervisor_required(can_edit_knowledge)
async def delete_kb(request: web.Request) -> web.Response:
    if not await in_db(request, knowledge.delete_entry, int_param(request, "entry_id")):
        raise NotFound("no such knowledge-base entry")
    return web.json_response({"deleted": True})
