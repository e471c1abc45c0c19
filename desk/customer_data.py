"""One customer's personal data in the desk database: export it, delete it.

Orders and bills are the business's own records (accounting keeps them), so
deleting a customer removes their conversations, tickets, facts, surveys,
reminders and undelivered texts, and strips their id from orders and bills.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Dict, List

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from desk.models import (Bill, ChannelCursor, Conversation, CustomerFact, FollowUp, Order, Reminder, Survey,
                         Ticket, TicketEvent, UndeliveredMessage)

SHOP_PLATFORMS = ("taobao", "tmall")
ERASED = "（已删除）"


def _row(obj) -> Dict[str, Any]:
    out = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return out


def _shop_buyer(customer_id: str):
    platform, _, buyer = customer_id.partition(":")
    return (buyer or None) if platform in SHOP_PLATFORMS else None


def _bills(customer_id: str):
    channel, _, address = customer_id.partition(":")
    return (Bill.channel == channel, Bill.address == address) if address else (Bill.id.is_(None),)


def export(session: Session, customer_id: str) -> Dict[str, List[Dict[str, Any]]]:
    tickets = list(session.execute(select(Ticket).where(Ticket.customer_id == customer_id)).scalars())
    ticket_ids = [t.id for t in tickets]
    buyer = _shop_buyer(customer_id)

    def rows(model, *where) -> List[Dict[str, Any]]:
        return [_row(r) for r in session.execute(select(model).where(*where).order_by(model.id)).scalars()]

    return {
        "conversations": rows(Conversation, Conversation.customer_id == customer_id),
        "tickets": [_row(t) for t in tickets],
        "ticket_events": rows(TicketEvent, TicketEvent.ticket_id.in_(ticket_ids)) if ticket_ids else [],
        "surveys": rows(Survey, Survey.customer_id == customer_id),
        "facts": rows(CustomerFact, CustomerFact.customer_id == customer_id),
        "reminders": rows(Reminder, Reminder.customer_id == customer_id),
        "undelivered_messages": rows(UndeliveredMessage, UndeliveredMessage.customer_id == customer_id),
        "orders": rows(Order, Order.platform.in_(SHOP_PLATFORMS), Order.buyer == buyer) if buyer else [],
        "bills": rows(Bill, *_bills(customer_id)),
    }


def erase(session: Session, customer_id: str) -> Dict[str, int]:
    """Everything in one transaction: all of it goes, or nothing does."""
    counts: Dict[str, int] = {}
    ticket_ids = list(session.execute(select(Ticket.id).where(Ticket.customer_id == customer_id)).scalars())
    if ticket_ids:
        for model in (TicketEvent, Survey, FollowUp):
            counts[model.__tablename__] = session.execute(
                delete(model).where(model.ticket_id.in_(ticket_ids))).rowcount
    for model in (Survey, CustomerFact, Reminder, UndeliveredMessage, Ticket, Conversation):
        counts[model.__tablename__] = counts.get(model.__tablename__, 0) + session.execute(
            delete(model).where(model.customer_id == customer_id)).rowcount
    buyer = _shop_buyer(customer_id)
    if buyer:
        counts["orders_anonymised"] = session.execute(update(Order).where(
            Order.platform.in_(SHOP_PLATFORMS), Order.buyer == buyer).values(buyer=None)).rowcount
        counts["routes"] = session.execute(delete(ChannelCursor).where(
            ChannelCursor.channel.like("%-route"), ChannelCursor.account == buyer)).rowcount
    counts["bills_anonymised"] = session.execute(update(Bill).where(*_bills(customer_id)).values(
        address=ERASED)).rowcount
    session.commit()
    return counts
