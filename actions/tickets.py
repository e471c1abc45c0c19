"""Opening a ticket from the current message and promising the reply time."""

from __future__ import annotations

from actions.store import in_db
from actions.turn import Turn
from kefu.core.categories import default_categories
from kefu.core.conversations import open_conversation
from kefu.core.models import Priority, Ticket
from kefu.core.tickets import NewTicket, create_ticket


def promise_text(hours: float) -> str:
    """Reply-time promise in the customer's words (seed: 2 h simple, 24 h complex)."""
    if hours < 1:
        return f"{round(hours * 60)}分钟内"
    if hours == int(hours):
        return f"{int(hours)}小时内"
    return f"{hours:g}小时内"


async def open_ticket(
    turn: Turn,
    *,
    intent: str,
    category: str,
    summary: str,
    reply_hours: float | None = None,
    priority: str = Priority.normal.value,
    room: str | None = None,
    phone: str | None = None,
    order_id: str | None = None,
) -> Ticket:
    """Create (once per incoming message) the ticket for this turn.

    Room, phone and order number default to those found in the message.
    """
    hours = reply_hours if reply_hours is not None else default_categories().reply_hours(category)
    new = NewTicket(
        channel=turn.channel,
        customer_id=turn.customer_id,
        intent=intent,
        category=category,
        summary=summary,
        opening_message=turn.text,
        source_message_id=turn.message_id,
        reply_hours=hours,
        priority=priority,
        room=room or turn.room,
        phone=phone or turn.phone,
        order_id=order_id or turn.order_id,
    )

    def create(session):
        # The conversation row exists from the first ticket on, so the desk
        # can show a customer's tickets beside their conversation.
        open_conversation(session, turn.channel, turn.customer_id)
        ticket, _created = create_ticket(session, new)
        return ticket

    return await in_db(create)
