"""待学习: what the bot did not understand, for supervisors to teach it.

Recorded by the actions: a message below the NLU's confidence (fallback), an
inquiry the knowledge base had no confident answer for, an answer the
customer said did not help, and the customer message just before a handoff.
Personal data is masked before anything is stored (kefu/text/pii.py).
Near-duplicates share one item: the same text once normalised (greetings,
punctuation, case and the digits of numbers aside) counts on the first item,
which keeps up to five example texts.

A supervisor then labels an item with an intent (training data for the next
model), attaches it to a knowledge-base entry as one more similar question
(live at once), or ignores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core import knowledge
from kefu.core.errors import BadRequest, Conflict, NotFound
from kefu.core.models import LearningItem, local_iso, utcnow
from kefu.text.kb_match import normalize
from kefu.text.pii import mask_stored

REASONS = ("fallback", "low_confidence", "no_kb_answer", "unhelpful", "before_handoff")
STATUSES = ("open", "labelled", "attached", "ignored")
# The intents a supervisor may teach: what customers say, not what the
# bot's own components set (emergency, survey_answer, nlu_fallback).
LABELS = (
    "inquiry",
    "complaint",
    "repair",
    "payment_reminder",
    "request_human",
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "inform",
    "out_of_scope",
    "acknowledge",
    "bot_challenge",
    "ticket_status",
)
MAX_TEXT, MAX_EXAMPLES = 1000, 5
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Seen:
    """One message the bot did not understand, as an action saw it."""

    text: str
    reason: str
    channel: str
    predicted_intent: str | None = None
    confidence: float | None = None


def key_of(text: str) -> str:
    return _DIGITS.sub("0", normalize(text))[:500]


def record(session: Session, seen: Seen) -> LearningItem | None:
    """Count the message on its item (a new one for a new text); None for a
    message with nothing to learn from (empty, only punctuation or emoji)."""
    if seen.reason not in REASONS:
        raise ValueError(f"unknown reason {seen.reason!r}")
    text = mask_stored(seen.text.strip())[:MAX_TEXT]
    key = key_of(text)
    if not key:
        return None
    now = utcnow()
    for _attempt in range(2):  # two processes may see the same new text at once
        item = session.execute(select(LearningItem).where(LearningItem.key == key)).scalar_one_or_none()
        if item is not None:
            session.execute(
                update(LearningItem)
                .where(LearningItem.id == item.id)
                .values(count=LearningItem.count + 1, last_seen=now)
            )
            if text not in item.examples and len(item.examples) < MAX_EXAMPLES:
                item.examples = [*item.examples, text]
            session.commit()
            return item
        item = LearningItem(
            key=key,
            text=text,
            examples=[text],
            count=1,
            reason=seen.reason,
            predicted_intent=seen.predicted_intent,
            confidence=seen.confidence,
            channel=seen.channel,
            status="open",
            first_seen=now,
            last_seen=now,
        )
        session.add(item)
        try:
            session.commit()
            return item
        except IntegrityError:
            session.rollback()
    return None


def list_items(session: Session, status: str | None = "open") -> list[LearningItem]:
    """Items of a status (all without one), the most frequent first."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    query = select(LearningItem).order_by(LearningItem.count.desc(), LearningItem.last_seen.desc())
    if status is not None:
        query = query.where(LearningItem.status == status)
    return list(session.execute(query).scalars())


def _open_item(session: Session, item_id: int) -> LearningItem:
    item = session.get(LearningItem, item_id)
    if item is None:
        raise NotFound("no such learning item")
    return item


def _handled(item: LearningItem, status: str, by: str | None) -> None:
    item.status, item.handled_by, item.handled_at = status, by, utcnow()


def label(session: Session, item_id: int, intent: object, by: str | None) -> LearningItem:
    """The intent the message should have had: training data for the next model."""
    if not isinstance(intent, str) or intent not in LABELS:
        raise BadRequest(f"intent must be one of {', '.join(LABELS)}")
    item = _open_item(session, item_id)
    item.label_intent = intent
    _handled(item, "labelled", by)
    session.commit()
    return item


def attach(session: Session, item_id: int, kb_id: object, by: str | None) -> LearningItem:
    """One more way to ask a knowledge-base entry: live on every server at once."""
    if type(kb_id) is not int:
        raise BadRequest("kb_id must be a knowledge-base entry id")
    item = _open_item(session, item_id)
    entry = knowledge.add_similar(session, kb_id, item.text, by)
    if entry is None:
        raise NotFound("no such knowledge-base entry")
    if item.text not in entry.similar:
        raise Conflict("the entry could not take this text as a similar question")
    item = _open_item(session, item_id)
    item.kb_entry_id = kb_id
    _handled(item, "attached", by)
    session.commit()
    return item


def ignore(session: Session, item_id: int, by: str | None) -> LearningItem:
    item = _open_item(session, item_id)
    _handled(item, "ignored", by)
    session.commit()
    return item


@dataclass(frozen=True)
class Labelled:
    """One training example a supervisor gave, and when."""

    text: str
    intent: str
    labelled_at: datetime


def labelled_examples(session: Session) -> list[Labelled]:
    """Every labelled item's texts (its examples) with the intent: training
    data for the next model, oldest label first."""
    rows = session.execute(
        select(LearningItem).where(LearningItem.status == "labelled").order_by(LearningItem.handled_at, LearningItem.id)
    ).scalars()
    return [
        Labelled(text, item.label_intent, item.handled_at or item.last_seen)
        for item in rows
        for text in item.examples
        if item.label_intent
    ]


def item_to_json(item: LearningItem) -> dict:
    return {
        "id": item.id,
        "text": item.text,
        "examples": list(item.examples),
        "count": item.count,
        "reason": item.reason,
        "predicted_intent": item.predicted_intent,
        "confidence": item.confidence,
        "channel": item.channel,
        "last_seen": local_iso(item.last_seen),
        "status": item.status,
        "label_intent": item.label_intent,
        "kb_entry_id": item.kb_entry_id,
    }
