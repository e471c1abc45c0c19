"""The customer card beside a conversation in the desk: who the customer is
(channel, the name the platform gives them), their past conversations and
tickets (by KF number), bills, and what they told us about paying (已付,
晚点付, 别催了). Orders come from their own route (shop customers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.conversations import conversation_to_json
from kefu.core.models import Bill, Conversation, CustomerFact, Ticket, local_iso
from kefu.core.tickets import ticket_to_json

LIMIT = 20
FACT_LABELS = {"already_paid": "已付", "pay_later": "晚点付", "stop_reminders": "别催了"}
SHOP_CHANNELS = ("taobao", "tmall")


def display_name(customer_id: str) -> str | None:
    """The name the platform knows the customer by: a Taobao/Tmall buyer's
    nick is their id there; other channels give an opaque id (WeChat's
    openid, the widget's session), so None."""
    platform, _, rest = customer_id.partition(":")
    return rest if platform in SHOP_CHANNELS and rest else None


def card(session: Session, customer_id: str) -> dict:
    def newest(model: Any, order: Any) -> list[Any]:
        query = select(model).where(model.customer_id == customer_id).order_by(order.desc()).limit(LIMIT)
        return list(session.execute(query).scalars())

    conversations = newest(Conversation, Conversation.id)
    tickets = newest(Ticket, Ticket.id)
    bills = newest(Bill, Bill.due_date)
    facts = newest(CustomerFact, CustomerFact.id)
    channel = conversations[0].channel if conversations else (tickets[0].channel if tickets else None)
    return {
        "customer_id": customer_id,
        "channel": channel,
        "display_name": display_name(customer_id),
        "conversations": [conversation_to_json(c) for c in conversations],
        "tickets": [ticket_to_json(t) for t in tickets],
        "bills": [
            {
                "kind": b.kind,
                "period": b.period,
                "amount": f"{b.amount_cents / 100:.2f}",
                "due_date": b.due_date.isoformat(),
                "status": b.status,
                "address": b.address,
            }
            for b in bills
        ],
        "facts": [
            {"kind": f.kind, "label": FACT_LABELS.get(f.kind, f.kind), "text": f.text, "at": local_iso(f.created_at)}
            for f in facts
        ],
    }
