"""Routing (ACD): waiting conversations go to a free online agent of the
group that serves them, by themselves.

One routing pass (`route`) runs under an exclusive lock (PostgreSQL: a
transaction-level advisory lock shared by every desk process; SQLite: the
write lock taken at BEGIN IMMEDIATE), so however many processes route at
once, no conversation is assigned twice and no agent goes above capacity.
Manual take-over and transfer take the same lock.

Order (seed): urgent first, then 重点客户, customers who rarely ask, the
longest wait (kefu.core.conversations.list_conversations). The agent: the
customer's previous agent if online with room (within 24 h), otherwise the
one with the fewest active conversations, ties to the one idle longest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, object_session

from kefu.core import queue_waits
from kefu.core.conversations import DESK_STATUSES, ConversationTaken, NotInDesk, list_conversations
from kefu.core.errors import BadRequest, Conflict, NotFound
from kefu.core.models import (
    SHANGHAI,
    Agent,
    Conversation,
    ConversationNote,
    ConversationStatus,
    SkillGroup,
    local_iso,
    utcnow,
)

STATUSES = ("online", "busy", "away", "offline")
ONLINE = "online"
OFFLINE = "offline"
PRESENCE_TIMEOUT = timedelta(seconds=60)  # no desk page seen for this long: 离线
PREVIOUS_AGENT_WITHIN = timedelta(hours=24)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LOCK_KEY = 0x6B656675  # "kefu": the routing lock's advisory key on PostgreSQL


class AtCapacity(Conflict):
    def __init__(self, agent_id: int, capacity: int) -> None:
        super().__init__(f"agent {agent_id} already has {capacity} active conversations", code="at_capacity")


@dataclass(frozen=True)
class Assignment:
    conversation_id: int
    agent_id: int
    channel: str
    customer_id: str


def exclusive(session: Session) -> None:
    """Hold the routing lock until the session's transaction ends."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif dialect == "sqlite":
        # pysqlite begins lazily, before the first write: a pass that read
        # first could lose its snapshot to another process's write. Taking
        # the write lock at the start makes the pass one serial step.
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


# -- presence ---------------------------------------------------------------


def presence(agent: Agent, now: datetime, timeout: timedelta = PRESENCE_TIMEOUT) -> str:
    """What routing goes by: the status the agent set, but 离线 once no desk
    page of theirs was seen for `timeout`."""
    if agent.disabled_at is not None or agent.last_seen_at is None or now - agent.last_seen_at > timeout:
        return OFFLINE
    return agent.status if agent.status in STATUSES else OFFLINE


def seen(session: Session, agent_id: int, now: datetime | None = None) -> None:
    """A desk page of the agent's is open (heartbeat)."""
    agent = session.get(Agent, agent_id)
    if agent is not None:
        agent.last_seen_at = now or utcnow()
        session.commit()


def set_status(session: Session, agent_id: int, status: str, now: datetime | None = None) -> Agent:
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    now = now or utcnow()
    exclusive(session)
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} not found")
    agent.status = status
    agent.last_seen_at = now  # setting it is being there
    if status == OFFLINE:
        _requeue_unanswered(session, [agent_id])
    session.commit()
    return agent


# -- groups -----------------------------------------------------------------


def _names(value: object, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise BadRequest(f"{field} must be a list of names")
    return list(dict.fromkeys(value))


def _clock(value: object) -> str:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise BadRequest("hours are HH:MM")
    hours, minutes = value[:2], value[3:]
    if not (hours.isdigit() and minutes.isdigit()) or int(minutes) > 59 or int(hours) > 24:
        raise BadRequest("hours are HH:MM")
    if int(hours) == 24 and int(minutes):
        raise BadRequest("24:00 is the latest time")
    return value


def checked_group(body: dict) -> dict:
    """The fields of a PUT /api/groups/{name} body, validated."""
    fields: dict = {}
    for field in ("intents", "categories", "channels"):
        if field in body:
            fields[field] = _names(body[field], field)
    if "hours" in body:
        hours = body["hours"]
        if not isinstance(hours, dict) or not set(hours) <= set(DAYS):
            raise BadRequest(f"hours maps days ({', '.join(DAYS)}) to [[start, end], …]")
        fields["hours"] = {}
        for day, spans in hours.items():
            if not isinstance(spans, list):
                raise BadRequest(f"hours.{day} must be a list of [start, end]")
            checked = []
            for span in spans:
                if not isinstance(span, list) or len(span) != 2:
                    raise BadRequest(f"hours.{day} must be a list of [start, end]")
                start, end = _clock(span[0]), _clock(span[1])
                if start >= end:
                    raise BadRequest(f"hours.{day}: {start} is not before {end}")
                checked.append([start, end])
            fields["hours"][day] = checked
    if "holidays" in body:
        holidays = body["holidays"]
        if not isinstance(holidays, list):
            raise BadRequest("holidays must be a list of dates (YYYY-MM-DD)")
        for day in holidays:
            try:
                datetime.strptime(day, "%Y-%m-%d")
            except (TypeError, ValueError):
                raise BadRequest("holidays must be a list of dates (YYYY-MM-DD)") from None
        fields["holidays"] = sorted(set(holidays))
    return fields


def list_groups(session: Session) -> list[SkillGroup]:
    return list(session.execute(select(SkillGroup).order_by(SkillGroup.id)).scalars())


def put_group(session: Session, name: str, body: dict) -> SkillGroup:
    """Create or change a group (supervisors)."""
    if not 0 < len(name) <= 64:
        raise BadRequest("a group name has 1 to 64 characters")
    fields = checked_group(body)
    group = session.execute(select(SkillGroup).where(SkillGroup.name == name)).scalar_one_or_none()
    if group is None:
        group = SkillGroup(name=name, intents=[], categories=[], channels=[], hours={}, holidays=[])
        session.add(group)
    for field, value in fields.items():
        setattr(group, field, value)
    group.updated_at = utcnow()
    session.commit()
    return group


def group_to_json(group: SkillGroup) -> dict:
    return {
        "name": group.name,
        "intents": group.intents,
        "categories": group.categories,
        "channels": group.channels,
        "hours": group.hours,
        "holidays": group.holidays,
    }


def is_open(group: SkillGroup, now: datetime) -> bool:
    """Whether the group works at `now` (its hours are in Beijing time)."""
    local = now.astimezone(SHANGHAI)
    if local.strftime("%Y-%m-%d") in (group.holidays or []):
        return False
    clock = local.strftime("%H:%M")
    return any(start <= clock < end for start, end in (group.hours or {}).get(DAYS[local.weekday()], []))


def group_for(groups: Sequence[SkillGroup], conversation: Conversation) -> SkillGroup | None:
    """The group that serves the conversation: of those whose intents,
    categories and channels admit it (an empty list admits anything), the
    most specific; None when no group does (any agent serves it)."""

    def admits(values: list, value: str | None) -> bool:
        return not values or value in values

    matching = [
        g
        for g in groups
        if admits(g.intents, conversation.intent)
        and admits(g.categories, conversation.category)
        and admits(g.channels, conversation.channel)
    ]
    if not matching:
        return None
    return max(matching, key=lambda g: (bool(g.categories), bool(g.intents), bool(g.channels), -g.id))


# -- routing ----------------------------------------------------------------


def active_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.status == ConversationStatus.assigned.value, Conversation.assignee_id.is_not(None))
        .group_by(Conversation.assignee_id)
    )
    return {agent_id: count for agent_id, count in rows}


def _requeue_unanswered(session: Session, agent_ids: Iterable[int]) -> int:
    """An agent who went offline: conversations still waiting for their first
    answer go back to the queue (those in progress stay with them)."""
    ids = list(agent_ids)
    if not ids:
        return 0
    found = session.execute(
        select(Conversation).where(
            Conversation.assignee_id.in_(ids),
            Conversation.status == ConversationStatus.assigned.value,
            Conversation.first_reply_at.is_(None),
        )
    ).scalars()
    count = 0
    for conversation in found:
        conversation.assignee_id = None
        conversation.assigned_at = None
        conversation.status = ConversationStatus.waiting.value
        queue_waits.requeued(session, conversation)
        count += 1
    return count


def group_of(groups: Sequence[SkillGroup], conversation: Conversation) -> SkillGroup | None:
    """The group a conversation was given (by routing or a transfer), else
    the one that serves it."""
    named = next((g for g in groups if g.name == conversation.group_name), None)
    return named or group_for(groups, conversation)


def in_group(agent: Agent, group: SkillGroup | None) -> bool:
    return group is None or agent.groups is None or group.name in agent.groups


def pending(session: Session) -> bool:
    """Whether a pass has anything to do: a conversation waiting for an agent,
    or one assigned but unanswered (its agent may have gone). Read without
    the lock, so an idle desk takes no write lock several times a second."""
    found = session.execute(
        select(Conversation.id)
        .where(
            Conversation.status.in_(DESK_STATUSES),
            (Conversation.assignee_id.is_(None)) | (Conversation.first_reply_at.is_(None)),
        )
        .limit(1)
    ).first()
    session.rollback()
    return found is not None


def route(session: Session, now: datetime | None = None, timeout: timedelta = PRESENCE_TIMEOUT) -> list[Assignment]:
    """One routing pass: assign every waiting conversation that an online
    agent of its group has room for. Returns the new assignments."""
    exclusive(session)
    # After the lock: a pass that waited for another must not date its
    # assignments before the handoffs it now sees.
    now = now or utcnow()
    agents = [a for a in session.execute(select(Agent).where(Agent.disabled_at.is_(None))).scalars()]
    gone = [a.id for a in agents if presence(a, now, timeout) == OFFLINE]
    _requeue_unanswered(session, gone)
    session.flush()
    waiting = [c for c in list_conversations(session, ConversationStatus.waiting.value) if c.assignee_id is None]
    if not waiting:
        session.commit()
        return []
    groups = list_groups(session)
    online = [a for a in agents if presence(a, now, timeout) == ONLINE]
    active = active_counts(session)
    made: list[Assignment] = []
    grouped: list[Conversation] = []
    assigned: list[tuple[Conversation, int]] = []
    for conversation in waiting:
        # A group once chosen (or given by a transfer) stays the conversation's.
        group = next((g for g in groups if g.name == conversation.group_name), None)
        if group is None:
            group = group_for(groups, conversation)
            conversation.group_name = group.name if group else None
            grouped.append(conversation)
        free = [a for a in online if active.get(a.id, 0) < a.capacity and in_group(a, group)]
        if not free:
            continue
        previous = next(
            (
                a
                for a in free
                if a.id == conversation.last_agent_id
                and conversation.last_agent_at is not None
                and now - conversation.last_agent_at <= PREVIOUS_AGENT_WITHIN
            ),
            None,
        )
        agent = previous or min(
            free,
            key=lambda a: (active.get(a.id, 0), a.last_routed_at is not None, a.last_routed_at or now, a.id),
        )
        _assign(conversation, agent, now, logged=False)
        assigned.append((conversation, agent.id))
        active[agent.id] = active.get(agent.id, 0) + 1
        made.append(Assignment(conversation.id, agent.id, conversation.channel, conversation.customer_id))
    session.flush()
    queue_waits.routed(session, grouped, assigned, now)
    session.commit()
    return made


def _assign(conversation: Conversation, agent: Agent, now: datetime, logged: bool = True) -> None:
    """logged False: the caller writes the queue's log itself (a routing pass, in one statement)."""
    session = object_session(conversation)
    if logged and session is not None:
        queue_waits.assigned(session, conversation, agent.id, now)
    conversation.assignee_id = agent.id
    conversation.status = ConversationStatus.assigned.value
    conversation.assigned_at = now
    conversation.last_agent_id = agent.id
    conversation.last_agent_at = now
    conversation.updated_at = now
    agent.last_routed_at = now


def take(session: Session, conversation_id: int, agent_id: int, now: datetime | None = None) -> Conversation:
    """An agent pulls a conversation (接入会话) or answers it first: it counts
    against their capacity; one someone else holds is refused (409)."""
    now = now or utcnow()
    exclusive(session)
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    agent = session.get(Agent, agent_id)
    if conversation is None or agent is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if conversation.status not in DESK_STATUSES:
        raise NotInDesk(conversation_id, conversation.status)
    # Whoever takes or answers a conversation is at the desk: present, and
    # 忙碌 if they had not gone 在线 (so routing neither requeues this
    # conversation nor sends them more).
    agent.last_seen_at = now
    if agent.status == OFFLINE:
        agent.status = "busy"
    if conversation.assignee_id == agent_id:
        session.commit()
        return conversation
    if conversation.assignee_id is not None:
        raise ConversationTaken(conversation_id, conversation.assignee_id)
    if active_counts(session).get(agent_id, 0) >= agent.capacity:
        raise AtCapacity(agent_id, agent.capacity)
    if conversation.group_name is None:  # taken before any routing pass chose its group
        group = group_for(list_groups(session), conversation)
        conversation.group_name = group.name if group else None
    _assign(conversation, agent, now)
    session.commit()
    return conversation


def positions(session: Session, queue: Sequence[Conversation] | None = None) -> dict[int, tuple[str | None, int]]:
    """Each waiting conversation's group and place in that group's queue (1 =
    next). `queue`: the conversations in queue order, when the caller has
    them already (list_conversations)."""
    groups = list_groups(session)
    seen_per_group: dict[str | None, int] = {}
    places = {}
    if queue is None:
        queue = list_conversations(session, ConversationStatus.waiting.value)
    for conversation in queue:
        if conversation.status != ConversationStatus.waiting.value or conversation.assignee_id is not None:
            continue
        group = conversation.group_name or (g.name if (g := group_for(groups, conversation)) else None)
        seen_per_group[group] = seen_per_group.get(group, 0) + 1
        places[conversation.id] = (group, seen_per_group[group])
    return places


def agent_to_json(agent: Agent, active: int, now: datetime | None = None) -> dict:
    return {
        "id": agent.id,
        "name": agent.name,
        "role": agent.role,
        "status": presence(agent, now or utcnow()),
        "capacity": agent.capacity,
        "groups": agent.groups,
        "active": active,
        "disabled": agent.disabled_at is not None,
    }


def list_agents(session: Session, with_disabled: bool = False, now: datetime | None = None) -> list[dict]:
    active = active_counts(session)
    query = select(Agent).order_by(Agent.id)
    if not with_disabled:
        query = query.where(Agent.disabled_at.is_(None))
    return [agent_to_json(a, active.get(a.id, 0), now) for a in session.execute(query).scalars()]


def first_answer(session: Session, conversation_id: int, now: datetime | None = None) -> None:
    """The assignee answered: from now on the conversation stays theirs if they go offline."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.first_reply_at is None:
        conversation.first_reply_at = now or utcnow()
        session.commit()


def set_agent(session: Session, agent_id: int, body: dict) -> dict:
    """A supervisor sets an agent's capacity and groups."""
    agent = session.get(Agent, agent_id)
    if agent is None or agent.disabled_at is not None:
        raise NotFound(f"agent {agent_id} not found")
    if "capacity" in body:
        capacity = body["capacity"]
        if type(capacity) is not int or not 0 <= capacity <= 100:
            raise BadRequest("capacity must be a whole number from 0 to 100")
        agent.capacity = capacity
    if "groups" in body:
        groups = body["groups"]
        if groups is not None:
            names = _names(groups, "groups")
            known = {g.name for g in list_groups(session)}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise BadRequest(f"unknown group: {', '.join(unknown)}")
            groups = names
        agent.groups = groups
    session.commit()
    return agent_to_json(agent, active_counts(session).get(agent.id, 0))


class AgentUnavailable(Conflict):
    def __init__(self, agent_id: int) -> None:
        super().__init__(f"agent {agent_id} is not online", code="agent_offline")


MAX_NOTE_CHARS = 2000


def add_note(session: Session, conversation_id: int, author_id: int | None, note: str) -> ConversationNote:
    """An internal note: for agents only, never sent to the customer."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    note = note.strip()
    if not note or len(note) > MAX_NOTE_CHARS:
        raise BadRequest(f"a note has 1 to {MAX_NOTE_CHARS} characters")
    row = ConversationNote(
        conversation_id=conversation.id, customer_id=conversation.customer_id, author_id=author_id, text=note
    )
    session.add(row)
    session.commit()
    return row


def notes_for(session: Session, conversation_id: int) -> list[dict]:
    """Every note on the customer (all their conversations), newest first."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    rows = session.execute(
        select(ConversationNote, Agent.name)
        .outerjoin(Agent, Agent.id == ConversationNote.author_id)
        .where(ConversationNote.customer_id == conversation.customer_id)
        .order_by(ConversationNote.id.desc())
    ).all()
    return [
        {"id": note.id, "author": name, "text": note.text, "created_at": local_iso(note.created_at)}
        for note, name in rows
    ]


def transfer(
    session: Session,
    conversation_id: int,
    *,
    agent_id: int | None = None,
    group: str | None = None,
    note: str | None = None,
    by: int | None = None,
    now: datetime | None = None,
    timeout: timedelta = PRESENCE_TIMEOUT,
) -> Conversation:
    """Hand a conversation to another agent (online, with room) or back to a
    group's queue, keeping its place; the note is for whoever receives it."""
    if (agent_id is None) == (group is None):
        raise BadRequest("transfer to an agent_id or to a group")
    now = now or utcnow()
    exclusive(session)
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if conversation.status not in DESK_STATUSES:
        raise NotInDesk(conversation_id, conversation.status)
    if agent_id is not None:
        agent = session.get(Agent, agent_id)
        if agent is None or agent.disabled_at is not None:
            raise NotFound(f"agent {agent_id} not found")
        if presence(agent, now, timeout) != ONLINE:
            raise AgentUnavailable(agent_id)
        if agent_id != conversation.assignee_id and active_counts(session).get(agent_id, 0) >= agent.capacity:
            raise AtCapacity(agent_id, agent.capacity)
        _assign(conversation, agent, now)
    else:
        if session.execute(select(SkillGroup.id).where(SkillGroup.name == group)).first() is None:
            raise NotFound(f"group {group!r} not found")
        # The previous agent's part ends; a new wait in the group's queue begins.
        queue_waits.ended(session, conversation, now)
        conversation.group_name = group
        conversation.assignee_id = None
        conversation.assigned_at = None
        conversation.status = ConversationStatus.waiting.value
        queue_waits.start(session, conversation, now)
        conversation.waiting_since = conversation.waiting_since or now
        conversation.updated_at = now
    conversation.first_reply_at = None  # the receiver has not answered yet
    if note and note.strip():
        session.add(
            ConversationNote(
                conversation_id=conversation.id,
                customer_id=conversation.customer_id,
                author_id=by,
                text=f"转接备注：{note.strip()[:MAX_NOTE_CHARS]}",
            )
        )
    session.commit()
    return conversation
