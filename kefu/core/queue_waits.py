"""The queue's log: one row per wait (QueueWait), written where the
conversation's state changes, for the reports (waiting time, abandonment,
conversations per agent and group). A conversation row is reused from one
handoff to the next; these rows keep each wait."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from kefu.core.models import Conversation, QueueWait


def _open(session: Session, conversation: Conversation) -> QueueWait | None:
    return session.execute(
        select(QueueWait)
        .where(QueueWait.conversation_id == conversation.id, QueueWait.ended_at.is_(None))
        .order_by(QueueWait.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def start(session: Session, conversation: Conversation, now: datetime) -> QueueWait:
    """The conversation joined the queue (a handoff, or a transfer to a group)."""
    wait = QueueWait(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,
        group_name=conversation.group_name,
        priority=conversation.priority,
        queued_at=now,
    )
    session.add(wait)
    return wait


def assigned(session: Session, conversation: Conversation, agent_id: int, now: datetime) -> None:
    """An agent got it (routing, 接入, or a transfer to them: then the
    previous agent's part ends and the receiver's begins)."""
    wait = _open(session, conversation)
    if wait is not None and wait.agent_id is not None and wait.agent_id != agent_id:
        ended(session, conversation, now)
        wait = start(session, conversation, now)
    if wait is None:
        wait = start(session, conversation, now)
    if wait.agent_id != agent_id:
        wait.assigned_at, wait.agent_id = now, agent_id
    wait.group_name = conversation.group_name


def routed(session: Session, grouped: list[Conversation], made: list[tuple[Conversation, int]], now: datetime) -> None:
    """A routing pass's news in a few statements (the pass runs under the
    routing lock: no query per conversation): the groups it chose, and the
    assignments it made (only of waits nobody held yet)."""
    open_wait = (QueueWait.conversation_id == bindparam("cid")) & QueueWait.ended_at.is_(None)
    if grouped:
        session.execute(
            update(QueueWait)
            .where(open_wait)
            .values(group_name=bindparam("group"))
            .execution_options(synchronize_session=False),
            [{"cid": c.id, "group": c.group_name} for c in grouped],
        )
    if made:
        session.execute(
            update(QueueWait)
            .where(open_wait & QueueWait.agent_id.is_(None))
            .values(assigned_at=bindparam("at"), agent_id=bindparam("agent"), group_name=bindparam("group"))
            .execution_options(synchronize_session=False),
            [{"cid": c.id, "at": now, "agent": agent_id, "group": c.group_name} for c, agent_id in made],
        )


def requeued(session: Session, conversation: Conversation) -> None:
    """Its agent went before answering: the customer is still waiting."""
    wait = _open(session, conversation)
    if wait is not None:
        wait.assigned_at = wait.agent_id = None


def ended(
    session: Session, conversation: Conversation, now: datetime, *, abandoned: bool = False, left_message: bool = False
) -> None:
    """Closed, handed back, left (abandoned) or turned into a 留言."""
    wait = _open(session, conversation)
    if wait is None:
        return
    wait.ended_at = now
    wait.abandoned = abandoned and wait.assigned_at is None
    wait.left_message = left_message
    wait.group_name = wait.group_name or conversation.group_name
