"""Ticket store: idempotent creation per incoming message, listing, taking;
what the customer adds to an open ticket (follow-ups, 催单)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.errors import Conflict
from kefu.core.models import Agent, Conversation, Priority, Ticket, TicketEvent, TicketStatus, local_iso, utcnow


class TicketAlreadyOwned(Conflict):
    def __init__(self, ticket_id: int, owner_id: int | None) -> None:
        super().__init__(
            f"ticket {ticket_id} is already owned by agent {owner_id}"
            if owner_id is not None
            else f"ticket {ticket_id} was reopened for a supervisor to take"
        )
        self.ticket_id = ticket_id
        self.owner_id = owner_id


@dataclass(frozen=True)
class NewTicket:
    channel: str
    customer_id: str
    intent: str
    category: str
    summary: str
    opening_message: str
    source_message_id: str
    reply_hours: float
    priority: str = Priority.normal.value
    room: str | None = None
    phone: str | None = None
    order_id: str | None = None


def ticket_number(ticket_id: int) -> str:
    """The number customers see and quote back to us."""
    return f"KF{ticket_id:06d}"


def create_ticket(session: Session, new: NewTicket, now: datetime | None = None) -> tuple[Ticket, bool]:
    """Create the ticket opened by one incoming message, at most once.

    Returns (ticket, created). A retried action for the same message gets the
    ticket created the first time, even when both attempts race.
    """
    existing = _by_source(session, new.customer_id, new.source_message_id)
    if existing is not None:
        return existing, False
    now = now or utcnow()
    ticket = Ticket(
        channel=new.channel,
        customer_id=new.customer_id,
        intent=new.intent,
        category=new.category,
        priority=new.priority,
        status=TicketStatus.new.value,
        summary=new.summary[:500],
        opening_message=new.opening_message,
        source_message_id=new.source_message_id,
        room=new.room,
        phone=new.phone,
        order_id=new.order_id,
        created_at=now,
        updated_at=now,
        due_at=now + timedelta(hours=new.reply_hours),
    )
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = _by_source(session, new.customer_id, new.source_message_id)
        if existing is None:
            raise
        return existing, False
    return ticket, True


def _by_source(session: Session, customer_id: str, source_message_id: str) -> Ticket | None:
    return session.execute(
        select(Ticket).where(
            Ticket.customer_id == customer_id,
            Ticket.source_message_id == source_message_id,
        )
    ).scalar_one_or_none()


DONE = (TicketStatus.resolved.value, TicketStatus.closed.value)


def list_tickets(
    session: Session,
    customer_id: str | None = None,
    status: str | None = None,
    limit: int = 200,
    category: str | None = None,
    channel: str | None = None,
    owner_id: int | None = None,
    overdue: bool = False,
    chased: bool = False,
) -> list[Ticket]:
    # A chased open ticket (催单) comes first, latest chase on top: the owner
    # sees it before anything else.
    is_open_chase = Ticket.chased_at.is_not(None) & Ticket.status.not_in(DONE)
    query = (
        select(Ticket)
        .order_by(
            case((is_open_chase, 0), else_=1),
            case((is_open_chase, Ticket.chased_at), else_=None).desc(),
            Ticket.created_at.desc(),
            Ticket.id.desc(),
        )
        .limit(limit)
    )
    for column, value in (
        (Ticket.customer_id, customer_id),
        (Ticket.status, status),
        (Ticket.category, category),
        (Ticket.channel, channel),
        (Ticket.owner_id, owner_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if overdue:
        query = query.where(Ticket.due_at < utcnow(), Ticket.status.not_in(DONE))
    if chased:
        query = query.where(Ticket.chased_at.is_not(None), Ticket.status.not_in(DONE))
    return list(session.execute(query).scalars())


def take_ticket(session: Session, ticket_id: int, agent_id: int, supervisor: bool = False) -> Ticket | None:
    """谁受理谁负责: the first agent to take a ticket owns it to the end.

    A conditional UPDATE, so two agents clicking at once cannot both win.
    """
    before = session.get(Ticket, ticket_id)
    was = before.status if before is not None else None
    now = utcnow()
    won = session.execute(
        update(Ticket)
        # A ticket reopened by a poor satisfaction score (no owner, not new)
        # is for a supervisor to take.
        .where(
            Ticket.id == ticket_id,
            Ticket.owner_id.is_(None),
            true() if supervisor else Ticket.status == TicketStatus.new.value,
        )
        .values(
            owner_id=agent_id,
            status=case(
                (Ticket.status == TicketStatus.new.value, TicketStatus.in_progress.value),
                else_=Ticket.status,
            ),
            taken_at=func.coalesce(Ticket.taken_at, now),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if won:
        session.add(
            TicketEvent(
                ticket_id=ticket_id,
                agent_id=agent_id,
                from_status=was,
                to_status=TicketStatus.in_progress.value if was == TicketStatus.new.value else was,
                note="受理",
            )
        )
    session.commit()
    ticket = session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        return None
    if ticket.owner_id != agent_id:
        raise TicketAlreadyOwned(ticket_id, ticket.owner_id)
    return ticket


def ticket_to_json(ticket: Ticket) -> dict:
    return {
        "id": ticket.id,
        "number": ticket_number(ticket.id),
        "channel": ticket.channel,
        "customer_id": ticket.customer_id,
        "intent": ticket.intent,
        "category": ticket.category,
        "priority": ticket.priority,
        "status": ticket.status,
        "owner_id": ticket.owner_id,
        "created_at": local_iso(ticket.created_at),
        "due_at": local_iso(ticket.due_at),
        "summary": ticket.summary,
        "room": ticket.room,
        "phone": ticket.phone,
        "order_id": ticket.order_id,
        "taken_at": local_iso(ticket.taken_at),
        "resolved_at": local_iso(ticket.resolved_at),
        "closed_at": local_iso(ticket.closed_at),
        "overdue": ticket.status not in DONE and ticket.due_at < utcnow(),
        "chases": ticket.chases or 0,
        "chased_at": local_iso(ticket.chased_at),
        "chase_due_at": local_iso(ticket.chase_due_at),
    }


# What a customer says about a ticket they have -------------------------------

RECENT = timedelta(days=1)
# The new promise after a chase: the original reply window, at most this long
# (an urgent repair's 30 minutes stays 30 minutes).
CHASE_PROMISE = timedelta(hours=2)


def customer_ticket(session: Session, customer_id: str, ticket_id: int) -> Ticket | None:
    """The ticket when it is this customer's; another customer's reads as none."""
    ticket = session.get(Ticket, ticket_id)
    return ticket if ticket is not None and ticket.customer_id == customer_id else None


def open_tickets(session: Session, customer_id: str, limit: int = 5) -> list[Ticket]:
    """The customer's tickets still being worked on, newest first."""
    return list(
        session.execute(
            select(Ticket)
            .where(Ticket.customer_id == customer_id, Ticket.status.not_in(DONE))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).scalars()
    )


def latest_ticket(session: Session, customer_id: str) -> Ticket | None:
    return session.execute(
        select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc()).limit(1)
    ).scalar_one_or_none()


def recent_open_ticket(
    session: Session, customer_id: str, within: timedelta = RECENT, now: datetime | None = None
) -> Ticket | None:
    """The customer's open ticket to attach what they send now (a follow-up
    message, a photo): the newest one not resolved or closed, opened within
    `within` or updated within it (an agent or the customer touched it).
    None when there is none; then a new message is a new matter."""
    since = (now or utcnow()) - within
    return session.execute(
        select(Ticket)
        .where(
            Ticket.customer_id == customer_id,
            Ticket.status.not_in(DONE),
            (Ticket.created_at >= since) | (Ticket.updated_at >= since),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _already_added(session: Session, ticket_id: int, source_message_id: str | None) -> bool:
    if not source_message_id:
        return False
    return (
        session.execute(
            select(TicketEvent.id).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.source_message_id == source_message_id
            )
        ).first()
        is not None
    )


def add_customer_message(
    session: Session,
    ticket_id: int,
    text: str,
    source_message_id: str | None = None,
    kind: str = "customer",
    now: datetime | None = None,
) -> Ticket | None:
    """Add what the customer said to the ticket's timeline, once per incoming message."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    if not _already_added(session, ticket_id, source_message_id):
        now = now or utcnow()
        session.add(
            TicketEvent(
                ticket_id=ticket_id,
                at=now,
                note=text[:1000],
                kind=kind,
                source_message_id=source_message_id,
            )
        )
        ticket.updated_at = now
        session.commit()
    return ticket


def is_overdue(ticket: Ticket, now: datetime | None = None) -> bool:
    return ticket.status not in DONE and ticket.due_at < (now or utcnow())


def chase_ticket(
    session: Session, ticket_id: int, text: str, source_message_id: str | None = None, now: datetime | None = None
) -> Ticket | None:
    """催单: the customer chased an overdue ticket. Counted once per incoming
    message; the ticket goes to the top of the desk's list and gets a new
    promise (the original window, at most CHASE_PROMISE). The missed due time
    stays, so the ticket stays in the overdue list until it is resolved."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    if _already_added(session, ticket_id, source_message_id):
        return ticket
    now = now or utcnow()
    window = min(ticket.due_at - ticket.created_at, CHASE_PROMISE)
    ticket.chases = (ticket.chases or 0) + 1
    ticket.chased_at = ticket.updated_at = now
    ticket.chase_due_at = now + max(window, timedelta(minutes=30))
    session.add(
        TicketEvent(
            ticket_id=ticket_id,
            at=now,
            kind="chase",
            note=f"客户催促（第{ticket.chases}次）：{text[:500]}",
            source_message_id=source_message_id,
        )
    )
    session.commit()
    return ticket


def chased_since(session: Session, since: datetime) -> list[Ticket]:
    """Tickets chased after `since`, for the desk's live notice."""
    return list(session.execute(select(Ticket).where(Ticket.chased_at > since).order_by(Ticket.chased_at)).scalars())


def conversation_of(session: Session, customer_id: str) -> int | None:
    """The customer's latest conversation: the ticket page links to it."""
    return session.execute(
        select(Conversation.id).where(Conversation.customer_id == customer_id).order_by(Conversation.id.desc()).limit(1)
    ).scalar_one_or_none()


def owner_name(session: Session, ticket: Ticket) -> str | None:
    agent = session.get(Agent, ticket.owner_id) if ticket.owner_id is not None else None
    return agent.name if agent is not None else None


def latest_customer_visible(session: Session, ticket_id: int) -> TicketEvent | None:
    """The newest timeline entry a customer may be told about: a status move
    or something the customer said. Agents' notes stay internal."""
    return session.execute(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.to_status.is_not(None) | TicketEvent.kind.is_not(None))
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
