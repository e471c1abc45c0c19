"""Opening a ticket from the current message and promising the reply time."""

from __future__ import annotations

from actions.store import in_db
from actions.turn import Turn
from kefu.core.categories import default_categories
from kefu.core.conversations import open_conversation
from kefu.core.models import Priority, Ticket
from kefu.core.tickets import NewTicket, create_ticket, ticket_number

INQUIRY_CATEGORY = "咨询"


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


async def inquiry_ticket(turn: Turn) -> str:
    """A question nobody could answer at once becomes a 咨询 ticket for a
    person (seed: 2-hour reply); returns what to tell the customer."""
    hours = default_categories().reply_hours(INQUIRY_CATEGORY)
    ticket = await open_ticket(
        turn,
        intent="inquiry",
        category=INQUIRY_CATEGORY,
        summary=f"咨询：{turn.text[:200]}",
        reply_hours=hours,
    )
    return (
        "感谢您的咨询！这个问题需要专人为您确认，已为您记录，"
        f"工单号：{ticket_number(ticket.id)}，我们会在{promise_text(hours)}回复您。"
        "如需立即人工服务，请回复“转人工”。"
    )
