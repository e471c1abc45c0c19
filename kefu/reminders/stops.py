"""When a reminder must not go out: what the customer said, and handoffs.

Read once per planning round or send batch, then asked per reminder. The
customer is known by the bot's sender id (`taobao:<buyer>`, `wechat:<openid>`),
which is also how the bot stored their facts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.facts import FactKind
from kefu.core.models import SHANGHAI, Conversation, ConversationStatus, CustomerFact
from kefu.reminders.policy import Policy

HANDOFF = (ConversationStatus.waiting.value, ConversationStatus.assigned.value)


def order_customer(platform: str, buyer: str) -> str:
    return f"{platform}:{buyer}"


def bill_customer(channel: str, address: str) -> str:
    return f"{channel}:{address}"


def aliases(customer: str) -> set[str]:
    """One Taobao account talks to the shop on the taobao or the tmall channel."""
    channel, _, who = customer.partition(":")
    if channel in ("taobao", "tmall"):
        return {f"taobao:{who}", f"tmall:{who}"}
    return {customer}


@dataclass(frozen=True)
class Fact:
    kind: str
    order_id: str | None
    at: datetime


@dataclass
class StopFacts:
    facts: dict[str, list[Fact]] = field(default_factory=dict)
    in_handoff: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, session: Session, customers: Collection[str] | None = None) -> StopFacts:
        fact_query = select(CustomerFact.customer_id, CustomerFact.kind, CustomerFact.order_id, CustomerFact.created_at)
        handoff_query = select(Conversation.customer_id).where(Conversation.status.in_(HANDOFF))
        if customers is not None:
            customers = {alias for c in customers for alias in aliases(c)}
            fact_query = fact_query.where(CustomerFact.customer_id.in_(list(customers)))
            handoff_query = handoff_query.where(Conversation.customer_id.in_(list(customers)))
        facts: dict[str, list[Fact]] = defaultdict(list)
        for row in session.execute(fact_query):
            facts[row.customer_id].append(Fact(row.kind, row.order_id, row.created_at))
        return cls(dict(facts), set(session.execute(handoff_query).scalars()))

    def stop_reason(
        self, customer: str, order_id: str | None, subject_created: datetime | None, policy: Policy, now: datetime
    ) -> str | None:
        same_person = aliases(customer)
        if same_person & self.in_handoff:
            return "customer is with a human agent (handoff)"
        for fact in (f for c in same_person for f in self.facts.get(c, ())):
            said = fact.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            if fact.kind == FactKind.stop_reminders.value:
                return f"customer asked to stop reminders ({said})"
            if fact.kind == FactKind.already_paid.value:
                if fact.order_id:
                    if fact.order_id == order_id:
                        return f"customer said order {order_id} is paid ({said})"
                elif subject_created is None or subject_created <= fact.at:
                    return f"customer said they already paid ({said})"
            if fact.kind == FactKind.pay_later.value:
                until = fact.at + timedelta(hours=policy.pay_later_pause_hours)
                if now < until:
                    return f"customer will pay later; paused until {until.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
        return None
