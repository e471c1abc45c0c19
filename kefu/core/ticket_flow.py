"""A ticket's life: new -> in_progress -> waiting_customer -> resolved -> closed.

Only the owner (谁受理谁负责) or a supervisor moves a ticket; every move is
on the timeline. A resolved repair gets a 回访 (follow-up call) due a day
later, as the seed's property service asks.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.errors import KefuError
from kefu.core.models import Agent, FollowUp, Ticket, TicketEvent, TicketStatus, local_iso, utcnow
from kefu.core.permissions import can_act_on_followup, can_move_ticket

S = TicketStatus
ALLOWED = {
    S.new.value: {S.in_progress.value},
    S.in_progress.value: {S.waiting_customer.value, S.resolved.value},
    S.waiting_customer.value: {S.in_progress.value, S.resolved.value},
    S.resolved.value: {S.closed.value, S.in_progress.value},
    S.closed.value: {S.in_progress.value},  # reopened (e.g. a poor satisfaction score)
}
FOLLOW_UP_AFTER = timedelta(hours=24)
# Repairs get a 回访 (seed: 维修回访); an emergency is a repair done urgently,
# so it is visited again too.
REVISITED_INTENTS = frozenset({"repair", "emergency"})


class TicketMoveRefused(KefuError):
    """404, 409 or 403: the HTTP status is the refusal's kind."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


def record(session: Session, ticket: Ticket, agent_id: int | None, to: str | None, note: str = "") -> None:
    session.add(
        TicketEvent(ticket_id=ticket.id, agent_id=agent_id, from_status=ticket.status, to_status=to, note=note or None)
    )


def move(session: Session, ticket_id: int, agent: Agent, to: str, note: str = "") -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketMoveRefused(404, "no such ticket")
    if to not in ALLOWED.get(ticket.status, set()):
        raise TicketMoveRefused(409, f"a {ticket.status} ticket cannot become {to}")
    if not can_move_ticket(agent, ticket.owner_id):
        if ticket.owner_id is None:
            raise TicketMoveRefused(409, "take the ticket first")
        raise TicketMoveRefused(403, "only the ticket's owner or a supervisor may move it")
    now = utcnow()
    record(session, ticket, agent.id, to, note)
    ticket.status, ticket.updated_at = to, now
    if to == S.in_progress.value and ticket.taken_at is None:
        ticket.taken_at = now
    if to == S.resolved.value:
        ticket.resolved_at = now
        if (
            ticket.intent in REVISITED_INTENTS
            and session.execute(select(FollowUp).where(FollowUp.ticket_id == ticket.id)).scalar_one_or_none() is None
        ):
            session.add(FollowUp(ticket_id=ticket.id, due_at=now + FOLLOW_UP_AFTER))
    if to == S.closed.value:
        ticket.closed_at = now
    session.commit()
    return ticket


def timeline(session: Session, ticket_id: int) -> list[dict]:
    rows = session.execute(
        select(TicketEvent, Agent.name)
        .outerjoin(Agent, Agent.id == TicketEvent.agent_id)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(TicketEvent.id)
    ).all()
    return [
        {
            "at": local_iso(e.at),
            "agent": name,
            "from": e.from_status,
            "to": e.to_status,
            "note": e.note,
            # None: an agent's or the system's entry; customer | chase | survey: the customer's.
            "kind": e.kind,
        }
        for e, name in rows
    ]


def open_followups(session: Session) -> list[FollowUp]:
    return list(session.execute(select(FollowUp).where(FollowUp.done_at.is_(None)).order_by(FollowUp.due_at)).scalars())


def complete_followup(session: Session, followup_id: int, agent: Agent, note: str) -> FollowUp | None:
    """Done by the ticket's owner (谁受理谁负责) or a supervisor, as its moves are."""
    followup = session.get(FollowUp, followup_id)
    if followup is None:
        return None
    if not can_act_on_followup(agent, session.get(Ticket, followup.ticket_id).owner_id):
        raise TicketMoveRefused(403, "only the ticket's owner or a supervisor may complete its follow-up")
    if followup.done_at is None:
        followup.done_at, followup.done_by, followup.note = utcnow(), agent.id, note or None
        ticket = session.get(Ticket, followup.ticket_id)
        record(session, ticket, agent.id, None, f"回访：{note}" if note else "回访完成")
        session.commit()
    return followup


def followup_to_json(f: FollowUp) -> dict:
    return {
        "id": f.id,
        "ticket_id": f.ticket_id,
        "due_at": local_iso(f.due_at),
        "done_at": local_iso(f.done_at),
        "note": f.note,
    }
