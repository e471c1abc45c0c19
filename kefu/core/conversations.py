"""Conversation records: who is talking to the customer (bot, queue, agent)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from kefu.core import queue_waits
from kefu.core.errors import Conflict
from kefu.core.models import Conversation, ConversationStatus, Priority, local_iso, utcnow
from kefu.core.settings import IMPORTANT_CUSTOMERS_FILE, important_customers_file

Past = aliased(Conversation)
IMPORTANT_FILE = IMPORTANT_CUSTOMERS_FILE
OPEN_STATUSES = (
    ConversationStatus.bot.value,
    ConversationStatus.waiting.value,
    ConversationStatus.assigned.value,
)


def open_conversation(session: Session, channel: str, customer_id: str) -> Conversation:
    """The customer's open conversation, created on first contact."""
    found = session.execute(
        select(Conversation)
        .where(Conversation.customer_id == customer_id, Conversation.status.in_(OPEN_STATUSES))
        .order_by(Conversation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if found is not None:
        return found
    conversation = Conversation(
        channel=channel,
        customer_id=customer_id,
        status=ConversationStatus.bot.value,
        priority=Priority.normal.value,
    )
    session.add(conversation)
    session.flush()
    return conversation


def record_handoff(
    session: Session,
    *,
    channel: str,
    customer_id: str,
    intent: str | None,
    reason: str,
    last_message: str | None,
    priority: str = Priority.normal.value,
) -> Conversation:
    """Put the conversation into the desk's waiting queue (idempotent)."""
    conversation = open_conversation(session, channel, customer_id)
    now = utcnow()
    if conversation.status == ConversationStatus.bot.value:
        conversation.status = ConversationStatus.waiting.value
        conversation.waiting_since = now
        conversation.handoff_reason = reason
        conversation.group_name = None  # routing chooses it for this handoff
        reset_wait(conversation)
        session.flush()
        queue_waits.start(session, conversation, now)
    conversation.intent = intent or conversation.intent
    if priority == Priority.urgent.value:
        conversation.priority = priority
    conversation.last_message = last_message
    conversation.updated_at = now
    session.commit()
    return conversation


def note_handled(conversation: Conversation, now: datetime) -> None:
    """How long its agent held it, for the waiting room's estimate."""
    if conversation.assigned_at is not None and conversation.status == ConversationStatus.assigned.value:
        conversation.handle_seconds = max(0, int((now - conversation.assigned_at).total_seconds()))
        conversation.handled_at = now


def reset_wait(conversation: Conversation) -> None:
    """Forget what the waiting room told the customer (a new wait starts afresh)."""
    conversation.wait_told_position = None
    conversation.wait_told_at = conversation.wait_acked_at = conversation.wait_offered_at = None
    conversation.wait_message_asked = False


def important_customers(path: Path | None = None) -> frozenset:
    """重点客户 from the data file (re-read each time: supervisors edit it live);
    path: by default KEFU_IMPORTANT_CUSTOMERS, else IMPORTANT_FILE."""
    path = path or important_customers_file()
    try:
        return frozenset(str(c) for c in (yaml.safe_load(path.read_text(encoding="utf-8")) or []))
    except (OSError, yaml.YAMLError, TypeError):
        return frozenset()


def list_conversations(
    session: Session, status: str | None = None, important: frozenset | None = None
) -> list[Conversation]:
    """The seed's order for urgent requests: most urgent first, then important
    customers, then customers who rarely ask (fewest earlier conversations),
    then the longest wait."""
    important = important_customers() if important is None else important
    earlier = (
        select(func.count())
        .select_from(Past)
        .where(Past.customer_id == Conversation.customer_id, Past.id < Conversation.id)
        .scalar_subquery()
    )
    query = select(Conversation)
    if status is not None:
        query = query.where(Conversation.status == status)
    query = query.order_by(
        (Conversation.priority == Priority.urgent.value).desc(),
        Conversation.customer_id.in_(sorted(important)).desc() if important else Conversation.id.is_(None),
        earlier.asc(),
        Conversation.waiting_since.asc(),
        Conversation.id.asc(),
    )
    return list(session.execute(query).scalars())


def return_to_bot(session: Session, conversation_id: int) -> Conversation | None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    note_handled(conversation, utcnow())
    queue_waits.ended(session, conversation, utcnow())
    conversation.status = ConversationStatus.bot.value
    conversation.assignee_id = None  # last_agent_id keeps who served, for next time
    conversation.waiting_since = None
    conversation.assigned_at = conversation.first_reply_at = None
    # The emergency was handled; a later handoff is urgent only if it is.
    conversation.priority = Priority.normal.value
    conversation.updated_at = utcnow()
    session.commit()
    return conversation


def conversation_to_json(conversation: Conversation, queued: tuple[str | None, int] | None = None) -> dict:
    """`queued`: a waiting conversation's group and place in its queue (1 = next)."""
    group, position = queued if queued is not None else (conversation.group_name, None)
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "customer_id": conversation.customer_id,
        "status": conversation.status,
        "intent": conversation.intent,
        "priority": conversation.priority,
        "assignee_id": conversation.assignee_id,
        "last_message": conversation.last_message,
        "handoff_reason": conversation.handoff_reason,
        "waiting_since": local_iso(conversation.waiting_since),
        "updated_at": local_iso(conversation.updated_at),
        "group": group,
        "position": position,
        "assigned_at": local_iso(conversation.assigned_at),
    }


def close_open_conversations(session: Session, customer_id: str) -> int:
    """Close every open conversation of a customer (e.g. WeChat unsubscribe)."""
    found = (
        session.execute(
            select(Conversation).where(Conversation.customer_id == customer_id, Conversation.status.in_(OPEN_STATUSES))
        )
        .scalars()
        .all()
    )
    now = utcnow()
    for conversation in found:
        queue_waits.ended(session, conversation, now)
        conversation.status = ConversationStatus.closed.value
        conversation.updated_at = now
    session.commit()
    return len(found)


def in_handoff(session: Session, customer_id: str) -> bool:
    """Is a person (or the queue) responsible for this customer right now?"""
    return (
        session.execute(
            select(Conversation.id)
            .where(
                Conversation.customer_id == customer_id,
                Conversation.status.in_((ConversationStatus.waiting.value, ConversationStatus.assigned.value)),
            )
            .limit(1)
        ).first()
        is not None
    )


def close_conversation(session: Session, conversation_id: int) -> Conversation | None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    note_handled(conversation, utcnow())
    queue_waits.ended(session, conversation, utcnow())
    conversation.status = ConversationStatus.closed.value
    conversation.waiting_since = None
    conversation.updated_at = conversation.closed_at = utcnow()
    session.commit()
    return conversation


class ConversationTaken(Conflict):
    def __init__(self, conversation_id: int, assignee_id: int) -> None:
        super().__init__(f"conversation {conversation_id} is handled by agent {assignee_id}", code="taken")
        self.assignee_id = assignee_id


class NotInDesk(Conflict):
    """The conversation is with the bot (handed back) or closed: Rasa is not
    paused for it, so an agent's answer would mark it served while the bot
    keeps answering."""

    def __init__(self, conversation_id: int, status: str) -> None:
        super().__init__(f"conversation {conversation_id} is {status}, not waiting for an agent", code="not_in_desk")
        # Not `status`: that is the HTTP status of the refusal (409).
        self.conversation_status = status


DESK_STATUSES = (ConversationStatus.waiting.value, ConversationStatus.assigned.value)
