"""Tables of the desk database. The schema itself is created by Alembic."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import declarative_base

Base: Any = declarative_base()


SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local_iso(value: datetime | None) -> str | None:
    """API times: ISO 8601 in China time, with its +08:00 offset."""
    return value.astimezone(SHANGHAI).isoformat() if value is not None else None


class UTCDateTime(TypeDecorator):
    """Stores UTC, always returns timezone-aware datetimes (SQLite drops tz)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class TicketStatus(str, enum.Enum):
    new = "new"
    in_progress = "in_progress"
    waiting_customer = "waiting_customer"
    resolved = "resolved"
    closed = "closed"


class ConversationStatus(str, enum.Enum):
    bot = "bot"  # the assistant answers
    waiting = "waiting"  # handed off, in the desk's queue
    assigned = "assigned"  # an agent took it
    closed = "closed"


class Priority(str, enum.Enum):
    normal = "normal"
    urgent = "urgent"


class Agent(Base):
    __tablename__ = "agents"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False, default="agent")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # A disabled agent cannot sign in and has no session; the row stays for
    # the tickets and timelines that name them.
    disabled_at = Column(UTCDateTime)
    # Presence as the agent set it (在线/忙碌/离开/离线); without a desk page
    # seen for the presence timeout the agent counts as offline anyway.
    status = Column(String(16), nullable=False, default="offline", server_default="offline")
    capacity = Column(Integer, nullable=False, default=5, server_default="5")
    groups = Column(JSON)  # skill group names; None: every group
    last_seen_at = Column(UTCDateTime)
    last_routed_at = Column(UTCDateTime)  # the last assignment: ties go to the one idle longest


class AgentToken(Base):
    __tablename__ = "agent_tokens"
    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class Conversation(Base):
    __tablename__ = "conversations"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    status = Column(String(16), nullable=False, default=ConversationStatus.bot.value)
    intent = Column(String(64))
    priority = Column(String(16), nullable=False, default=Priority.normal.value)
    assignee_id = Column(Integer, ForeignKey("agents.id"))
    last_message = Column(Text)
    handoff_reason = Column(String(64))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    waiting_since = Column(UTCDateTime)
    group_name = Column(String(64))  # the skill group that serves it
    category = Column(String(64))  # a complaint's category, for the groups that serve it
    assigned_at = Column(UTCDateTime)
    first_reply_at = Column(UTCDateTime)  # the assignee's first answer
    last_agent_id = Column(Integer)  # kept when the bot takes over again
    last_agent_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    # The waiting room (kefu.core.waiting): what it last told the customer.
    wait_told_position = Column(Integer)
    wait_told_at = Column(UTCDateTime)
    wait_acked_at = Column(UTCDateTime)  # "消息已收到", at most once a minute
    wait_offered_at = Column(UTCDateTime)  # 留言 last offered
    wait_message_asked = Column(Boolean, nullable=False, default=False)  # "请直接发送您要留言的内容"
    abandoned_at = Column(UTCDateTime)  # the customer left the queue (不用了 / 算了)
    handle_seconds = Column(Integer)  # the latest agent's assignment to close or hand-back
    handled_at = Column(UTCDateTime)
    customer_typing_at = Column(UTCDateTime)  # a widget customer typing, for the agent's page


class QueueWait(Base):
    """One wait in the desk's queue (kefu/core/queue_waits.py): the reports'
    waiting times, abandonment and conversations per agent and group."""

    __tablename__ = "queue_waits"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    group_name = Column(String(64))
    priority = Column(String(16), nullable=False, default=Priority.normal.value)
    queued_at = Column(UTCDateTime, nullable=False, index=True)
    assigned_at = Column(UTCDateTime)
    agent_id = Column(Integer, ForeignKey("agents.id"))
    ended_at = Column(UTCDateTime)
    abandoned = Column(Boolean, nullable=False, default=False)  # 不用了 / 算了 before an agent came
    left_message = Column(Boolean, nullable=False, default=False)  # 留言 instead of the wait


class FeedCursor(Base):
    """How far the desk has handled Rasa's event broker, and which desk
    process holds the feed (a lease, renewed while it runs)."""

    __tablename__ = "feed_cursors"
    name = Column(String(64), primary_key=True)
    last_id = Column(BigInteger, nullable=False)
    holder = Column(String(64))
    held_until = Column(Float)  # epoch seconds


class SkillGroup(Base):
    """A queue of the desk: the intents, complaint categories and channels it
    serves (empty: any) and its working hours."""

    __tablename__ = "skill_groups"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, unique=True)
    intents = Column(JSON, nullable=False, default=list)
    categories = Column(JSON, nullable=False, default=list)
    channels = Column(JSON, nullable=False, default=list)
    # {"mon": [["09:00", "18:00"]], …} in the business's time zone; a day
    # not listed is closed. Holidays: ["2026-10-01", …], closed all day.
    hours = Column(JSON, nullable=False, default=dict)
    holidays = Column(JSON, nullable=False, default=list)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ConversationNote(Base):
    """An agent's internal note on a conversation: never sent to the customer."""

    __tablename__ = "conversation_notes"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    author_id = Column(Integer, ForeignKey("agents.id"))
    text = Column(Text, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # One ticket per incoming message: a retried action finds this row.
        UniqueConstraint("customer_id", "source_message_id", name="uq_ticket_source_message"),
        # A number a customer was told never names another ticket, even after
        # the newest tickets are deleted (migration 0013).
        {"sqlite_autoincrement": True},
    )
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    intent = Column(String(64), nullable=False)
    category = Column(String(32), nullable=False)
    priority = Column(String(16), nullable=False, default=Priority.normal.value)
    status = Column(String(20), nullable=False, default=TicketStatus.new.value)
    owner_id = Column(Integer, ForeignKey("agents.id"))
    summary = Column(Text, nullable=False)
    opening_message = Column(Text, nullable=False)
    source_message_id = Column(String(128), nullable=False)
    room = Column(String(128))
    phone = Column(String(32))
    order_id = Column(String(32))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    taken_at = Column(UTCDateTime)  # first response: an agent took it
    resolved_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    # 催单: the customer chased this ticket after its promise passed (0014).
    chases = Column(Integer, nullable=False, default=0, server_default="0")
    chased_at = Column(UTCDateTime, index=True)
    chase_due_at = Column(UTCDateTime)  # the new promise the customer was given


class CustomerFact(Base):
    """What a customer said about paying ("already paid", "pay later", "stop")."""

    __tablename__ = "customer_facts"
    __table_args__ = (UniqueConstraint("customer_id", "source_message_id", "kind", name="uq_fact_source_message"),)
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    kind = Column(String(32), nullable=False)
    order_id = Column(String(32))
    text = Column(Text, nullable=False)
    source_message_id = Column(String(128), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ChannelDelivery(Base):
    """One row per inbound platform message: retries find it and stop. A
    claim not finished within its time belongs to a server that died with
    it, and a retry may take it over."""

    __tablename__ = "channel_deliveries"
    __table_args__ = (UniqueConstraint("channel", "dedup_key", name="uq_delivery_key"),)
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    dedup_key = Column(String(255), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished = Column(Boolean, nullable=False, default=False, server_default=true())
    claimed_at = Column(UTCDateTime, default=utcnow)
    payload = Column(Text)  # a pulled message (WeCom), for whoever takes the claim over


class UndeliveredMessage(Base):
    """An outgoing text the platform refused (e.g. WeChat 45015): shown in the desk."""

    __tablename__ = "undelivered_messages"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    text = Column(Text, nullable=False)
    error = Column(String(255), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ChannelCursor(Base):
    """Where reading a platform's message feed stopped (WeCom next_cursor)."""

    __tablename__ = "channel_cursors"
    channel = Column(String(32), primary_key=True)
    account = Column(String(128), primary_key=True)
    cursor = Column(String(255), nullable=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Bill(Base):
    """A fee a customer owes (物业费, 水电费, 租金, 停车费 …), one per kind and period."""

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("customer_id", "kind", "period", name="uq_bill_period"),)
    id = Column(Integer, primary_key=True)
    customer_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    address = Column(String(255), nullable=False)
    kind = Column(String(32), nullable=False)
    amount_cents = Column(Integer, nullable=False)  # money in fen: no float rounding
    due_date = Column(Date, nullable=False)
    period = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False, default="unpaid")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    paid_at = Column(UTCDateTime)


class Order(Base):
    """A Taobao/Tmall order as its trade events describe it."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("order_id", name="uq_order_id"),)
    id = Column(Integer, primary_key=True)
    platform = Column(String(16), nullable=False)
    order_id = Column(String(32), nullable=False)
    shop = Column(String(128))
    buyer = Column(String(128))
    amount_cents = Column(Integer)
    status = Column(String(16), nullable=False, default="unpaid")
    created_at = Column(UTCDateTime)
    paid_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ReminderStatus(str, enum.Enum):
    pending = "pending"  # waiting for its due time
    claimed = "claimed"  # a worker holds the lease, nothing sent yet
    sending = "sending"  # the platform call may have happened
    sent = "sent"  # the platform accepted it
    uncertain = "uncertain"  # the worker died mid-call: never resent automatically
    failed = "failed"  # the platform refused it every time
    cancelled = "cancelled"  # a stop condition held when it was due


class Reminder(Base):
    """The outbox: one row per reminder (催付/催缴) to send, claimed with a lease."""

    __tablename__ = "reminders"
    __table_args__ = (
        # The n-th reminder of an order or bill exists once, whoever plans it.
        UniqueConstraint("subject_type", "subject_id", "seq", name="uq_reminder_subject_seq"),
    )
    id = Column(Integer, primary_key=True)
    subject_type = Column(String(8), nullable=False)  # order | bill
    subject_id = Column(Integer, nullable=False)
    seq = Column(Integer, nullable=False)
    policy = Column(String(64), nullable=False)
    channel = Column(String(16), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    address = Column(String(255), nullable=False)
    shop = Column(String(128))
    text = Column(Text, nullable=False)
    status = Column(String(16), nullable=False, default=ReminderStatus.pending.value)
    due_at = Column(UTCDateTime, nullable=False)
    lease_owner = Column(String(64))
    lease_expires_at = Column(UTCDateTime)
    attempts = Column(Integer, nullable=False, default=0)
    error = Column(String(255))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sending_at = Column(UTCDateTime)
    sent_at = Column(UTCDateTime)


class LoginFailure(Base):
    """A failed desk login, for the rate limit (kept in the database so that
    every desk process sees the same count)."""

    __tablename__ = "login_failures"
    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False, index=True)
    ip = Column(String(64), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)


class CannedReply(Base):
    """快捷回复: a short script an agent inserts with one click."""

    __tablename__ = "canned_replies"
    id = Column(Integer, primary_key=True)
    title = Column(String(32), nullable=False)
    text = Column(Text, nullable=False)
    position = Column(Integer, nullable=False, default=0)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class TicketEvent(Base):
    """A ticket's timeline: who moved it where, and when."""

    __tablename__ = "ticket_events"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    agent_id = Column(Integer, ForeignKey("agents.id"))
    from_status = Column(String(20))
    to_status = Column(String(20))
    note = Column(Text)
    # None for an agent's or the system's entry; "customer" (a follow-up
    # message), "chase" (催单) or "survey" (a score's comment) come from the
    # customer, once per incoming message (source_message_id).
    kind = Column(String(16))
    source_message_id = Column(String(128))


class FollowUp(Base):
    """回访: a call-back after a repair is resolved, due a day later."""

    __tablename__ = "followups"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, unique=True)
    due_at = Column(UTCDateTime, nullable=False)
    done_at = Column(UTCDateTime)
    done_by = Column(Integer, ForeignKey("agents.id"))
    note = Column(Text)


class Survey(Base):
    """满意度调查: sent when a ticket is closed, answered 1-5 by the customer."""

    __tablename__ = "surveys"
    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False, unique=True)
    customer_id = Column(String(255), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id"))  # who served: the score is theirs
    sent_at = Column(UTCDateTime, nullable=False, default=utcnow)
    score = Column(Integer)
    answered_at = Column(UTCDateTime)


class Media(Base):
    """A photo, voice or video a customer sent. The file is under
    KEFU_MEDIA_DIR as `stored_name` (random); None while (or when) only the
    platform's reference (`source_ref`: media id, picture URL) is known."""

    __tablename__ = "media"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    customer_id = Column(String(255), nullable=False, index=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    conversation_id = Column(Integer, ForeignKey("conversations.id", ondelete="SET NULL"))
    kind = Column(String(16), nullable=False)  # image | voice | video | file
    content_type = Column(String(64))
    size = Column(Integer)
    sha256 = Column(String(64))
    stored_name = Column(String(128))
    source_ref = Column(Text)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class KbEntry(Base):
    """A knowledge-base (知识库) entry: what the bot answers by itself.
    `similar` and `tags` are lists of text; `variants` maps a channel name
    to that channel's answer."""

    __tablename__ = "kb_entries"
    id = Column(Integer, primary_key=True)
    question = Column(String(500), nullable=False, unique=True)
    similar = Column(JSON, nullable=False, default=list)
    answer = Column(Text, nullable=False)
    variants = Column(JSON, nullable=False, default=dict)
    tags = Column(JSON, nullable=False, default=list)
    enabled = Column(Boolean, nullable=False, default=True, server_default=true())
    hits = Column(Integer, nullable=False, default=0)
    helpful = Column(Integer, nullable=False, default=0)
    unhelpful = Column(Integer, nullable=False, default=0)
    updated_by = Column(String(64))  # the agent's name; None for imports and starter knowledge
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class KbRevision(Base):
    """One row: bumped by every change to what the bot can retrieve, so each
    action server knows cheaply when to rebuild its index."""

    __tablename__ = "kb_revision"
    id = Column(Integer, primary_key=True)
    revision = Column(Integer, nullable=False, default=0)


class LearningItem(Base):
    """待学习: a message the bot did not understand (or answered badly),
    with its near-duplicates counted on it; personal data masked before it is
    stored. A supervisor labels it with an intent, attaches it to a
    knowledge-base entry or ignores it."""

    __tablename__ = "learning_items"
    id = Column(Integer, primary_key=True)
    key = Column(String(500), nullable=False, unique=True)  # the normalised text near-duplicates share
    text = Column(String(1000), nullable=False)
    examples = Column(JSON, nullable=False, default=list)
    count = Column(Integer, nullable=False, default=1)
    reason = Column(String(32), nullable=False)
    predicted_intent = Column(String(64))
    confidence = Column(Float)
    channel = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False, default="open")  # open | labelled | attached | ignored
    label_intent = Column(String(64))
    kb_entry_id = Column(Integer, ForeignKey("kb_entries.id", ondelete="SET NULL"))
    handled_by = Column(String(64))
    first_seen = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen = Column(UTCDateTime, nullable=False, default=utcnow)
    handled_at = Column(UTCDateTime)


class NluModel(Base):
    """One trained model in the registry: `training` while `kefu train`
    runs, then `rejected` by the quality gate or `live`; the live model it
    replaces becomes `retired` (a rollback target). Rasa servers load the
    live one, never simply the newest file in models/."""

    __tablename__ = "nlu_models"
    id = Column(Integer, primary_key=True)
    file = Column(String(255))  # the archive's name in the models directory; None while training
    status = Column(String(16), nullable=False)  # training | rejected | live | retired
    metrics = Column(JSON, nullable=False, default=dict)
    reason = Column(String(1000))
    requested_by = Column(String(64))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    heartbeat_at = Column(UTCDateTime, nullable=False, default=utcnow)  # a training job's sign of life
    activated_at = Column(UTCDateTime)
