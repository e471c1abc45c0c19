"""The customer's own web widget (`/api/widget/…`, no agent credential): what
it shows after a reload.

The widget's random `web-…` session id is the only credential. A well-formed
id nobody has used gets the same answer as a new customer (no turns, with
the bot, no tickets), so the route tells nobody which ids exist; any other
id is a 404. The answer is readable from any shop's page (CORS `*`, added
for every /api/widget/ response in security_headers) and needs no cookie.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from aiohttp import web

from kefu.core.errors import NotFound
from kefu.core.models import local_iso
from kefu.core.widget_state import widget_state
from kefu.desk.requests import RASA, in_db

# The ids widget.js makes and the socket.io channel accepts (connectors/socketio.py).
WIDGET_SESSION = re.compile(r"web-[0-9a-z]{16,64}")
# The newest turns only: enough for the customer to pick up where they were.
MAX_MESSAGES = 100


def session_id(request: web.Request) -> str:
    found = request.match_info["session_id"]
    if not WIDGET_SESSION.fullmatch(found):
        raise NotFound("no such widget session")
    return found


async def widget_history(request: web.Request) -> web.Response:
    """`{"messages": [{"from", "text", "at", "agent"?}], "state", "agent", "tickets"}`."""
    customer = session_id(request)
    state = await in_db(request, widget_state, customer)
    turns = (await request.app[RASA].history(customer))[-MAX_MESSAGES:]
    messages = []
    for turn in turns:
        at = turn.get("timestamp")
        message = {
            "from": turn["from"],
            "text": turn["text"],
            "at": local_iso(datetime.fromtimestamp(at, timezone.utc)) if isinstance(at, (int, float)) else None,
        }
        if turn["from"] == "agent":
            message["agent"] = turn["agent"]
        messages.append(message)
    return web.json_response(
        {"messages": messages, **state},
        headers={"Cache-Control": "no-store"},
    )
