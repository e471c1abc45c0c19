"""The reminder outbox, as agents check it."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from kefu.core import reminder_outbox
from kefu.core.errors import BadRequest
from kefu.core.models import ReminderStatus
from kefu.desk.requests import in_db
from kefu.text.received import whole_number


async def list_reminders(request: web.Request) -> web.Response:
    """`?status=uncertain` lists those an agent must check with the customer
    (the worker stopped mid-call, so they are never resent)."""
    status = request.query.get("status")
    if status is not None and status not in {s.value for s in ReminderStatus}:
        raise BadRequest(f"unknown status {status!r}")
    limit = whole_number(request.query.get("limit", "200"), "limit", 1, 1000)
    rows = await in_db(request, partial(reminder_outbox.list_reminders, status=status, limit=limit))
    counts = await in_db(request, reminder_outbox.counts)
    return web.json_response({"counts": counts, "reminders": [reminder_outbox.reminder_to_json(r) for r in rows]})
