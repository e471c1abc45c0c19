"""The desk's search box: conversations and tickets by customer id, KF
number, phone and text. Phones are masked in the results (an agent
looking for a customer by phone already knows it; one browsing results
needs no list of numbers)."""

from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kefu.core.conversations import conversation_to_json
from kefu.core.errors import BadRequest
from kefu.core.models import Conversation, Ticket
from kefu.core.tickets import ticket_to_json
from kefu.text.pii import mask

MAX_QUERY_CHARS = 100
LIMIT = 20
_KF = re.compile(r"^(?:kf)?0*(\d{1,9})$", re.IGNORECASE)
_PHONE_DIGITS = re.compile(r"\d{7,}")


def _like(text: str) -> str:
    # The words as typed; %, _ and \\ are matched literally.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(session: Session, query: str, limit: int = LIMIT) -> dict:
    """`{"conversations": [...], "tickets": [...]}`, newest first."""
    q = (query or "").strip()
    if not q:
        raise BadRequest("q is empty: type a customer id, a KF number, a phone number or words")
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"q is longer than {MAX_QUERY_CHARS} characters")
    pattern = _like(q)
    ticket_match = [
        Ticket.customer_id.ilike(pattern, escape="\\"),
        Ticket.summary.ilike(pattern, escape="\\"),
        Ticket.opening_message.ilike(pattern, escape="\\"),
        Ticket.room.ilike(pattern, escape="\\"),
        Ticket.order_id == q,
    ]
    number = _KF.match(q)
    if number:
        ticket_match.append(Ticket.id == int(number.group(1)))
    digits = "".join(ch for ch in q if ch.isdigit())
    if _PHONE_DIGITS.fullmatch(digits) and len(digits) >= 7:
        ticket_match.append(Ticket.phone.like(f"%{digits}%"))
    tickets = list(
        session.execute(select(Ticket).where(or_(*ticket_match)).order_by(Ticket.id.desc()).limit(limit)).scalars()
    )
    # A customer found through a ticket (by phone, by KF number) brings their conversations too.
    customers = sorted({t.customer_id for t in tickets})
    conversation_match = [
        Conversation.customer_id.ilike(pattern, escape="\\"),
        Conversation.last_message.ilike(pattern, escape="\\"),
    ]
    if customers:
        conversation_match.append(Conversation.customer_id.in_(customers))
    conversations = list(
        session.execute(
            select(Conversation).where(or_(*conversation_match)).order_by(Conversation.id.desc()).limit(limit)
        ).scalars()
    )
    return {
        "conversations": [_masked_conversation(c) for c in conversations],
        "tickets": [_masked_ticket(t) for t in tickets],
    }


def _masked_ticket(ticket: Ticket) -> dict:
    found = ticket_to_json(ticket)
    for key in ("phone", "summary"):
        if found.get(key):
            found[key] = mask(found[key])
    return found


def _masked_conversation(conversation: Conversation) -> dict:
    found = conversation_to_json(conversation)
    if found.get("last_message"):
        found["last_message"] = mask(found["last_message"])
    return found
