"""What the web widget shows a returning customer besides the turns: who is
serving them (the bot, the queue, an agent by name) and the numbers of the
tickets they were given. Only the widget's own channel (`socketio`) counts:
the random `web-…` session id is the customer's whole identity there."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.conversations import OPEN_STATUSES
from kefu.core.models import Agent, Conversation, ConversationStatus, Ticket, utcnow
from kefu.core.tickets import ticket_number

CHANNEL = "socketio"
# A long-lived widget session keeps its newest numbers; the page is a phone's.
MAX_TICKETS = 20


def widget_state(session: Session, customer_id: str) -> dict:
    """`{"state": "bot"|"waiting"|"agent", "agent": name|None, "tickets": [...]}`;
    an unknown customer is simply with the bot and has no tickets."""
    row = session.execute(
        select(Conversation.status, Agent.name)
        .outerjoin(Agent, Agent.id == Conversation.assignee_id)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.channel == CHANNEL,
            Conversation.status.in_(OPEN_STATUSES),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    ).first()
    state, agent = "bot", None
    if row is not None and row.status == ConversationStatus.waiting.value:
        state = "waiting"
    elif row is not None and row.status == ConversationStatus.assigned.value:
        state, agent = "agent", row.name
    ids = (
        session.execute(
            select(Ticket.id)
            .where(Ticket.customer_id == customer_id, Ticket.channel == CHANNEL)
            .order_by(Ticket.id.desc())
            .limit(MAX_TICKETS)
        )
        .scalars()
        .all()
    )
    return {"state": state, "agent": agent, "tickets": [ticket_number(i) for i in reversed(ids)]}


TYPING_SHOWN = timedelta(seconds=6)  # the widget repeats its signal every 3 s while the customer types


def customer_typing(session: Session, customer_id: str, now: datetime | None = None) -> bool:
    """The widget customer is typing: noted on their conversation while a
    person serves or is about to (with the bot nobody watches). False when
    there is no such conversation."""
    found = session.execute(
        select(Conversation)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.channel == CHANNEL,
            Conversation.status.in_((ConversationStatus.waiting.value, ConversationStatus.assigned.value)),
        )
        .limit(1)
    ).scalar_one_or_none()
    if found is None:
        session.rollback()
        return False
    found.customer_typing_at = now or utcnow()
    session.commit()
    return True


def is_typing(conversation: Conversation, now: datetime | None = None) -> bool:
    at = conversation.customer_typing_at
    return at is not None and (now or utcnow()) - at < TYPING_SHOWN
