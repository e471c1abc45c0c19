"""Payment facts a customer told the bot; the reminder engine reads them."""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.models import CustomerFact


class FactKind(str, enum.Enum):
    already_paid = "already_paid"  # stop reminding for this bill/order
    pay_later = "pay_later"  # pause reminders
    stop_reminders = "stop_reminders"  # 别催了: no more reminders


def record_fact(
    session: Session,
    *,
    channel: str,
    customer_id: str,
    kind: FactKind,
    text: str,
    source_message_id: str,
    order_id: str | None = None,
) -> CustomerFact:
    """Store the fact once per incoming message (retries find the first row)."""
    query = select(CustomerFact).where(
        CustomerFact.customer_id == customer_id,
        CustomerFact.source_message_id == source_message_id,
        CustomerFact.kind == kind.value,
    )
    existing = session.execute(query).scalar_one_or_none()
    if existing is not None:
        return existing
    fact = CustomerFact(
        channel=channel,
        customer_id=customer_id,
        kind=kind.value,
        order_id=order_id,
        text=text,
        source_message_id=source_message_id,
    )
    session.add(fact)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return session.execute(query).scalar_one()
    return fact


def facts_for(session: Session, customer_id: str) -> list[CustomerFact]:
    return list(
        session.execute(
            select(CustomerFact).where(CustomerFact.customer_id == customer_id).order_by(CustomerFact.id)
        ).scalars()
    )
