"""知识库: the entries the bot answers from, edited by supervisors.

An entry is a standard question, its similar questions, the answer (and a
variant per channel where a channel needs its own wording), tags and an
enabled flag; hits and helpful / not-helpful counts say how it serves.
Answers are stored already clean of advertising-law words, like canned
replies. Every change to what the bot can retrieve (text, enabled, a
deletion) bumps `kb_revision`, which is how each action server knows to
rebuild its index (`KnowledgeCache`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest, Conflict
from kefu.core.models import KbEntry, KbRevision, local_iso, utcnow
from kefu.text.ad_law import check_outgoing
from kefu.text.kb_match import KbIndex, Match

# The channel names Kefu records (Rasa's input channels).
CHANNELS = ("socketio", "rest", "wechat", "wecom", "taobao", "tmall")
MAX_QUESTION, MAX_ANSWER, MAX_SIMILAR, MAX_TAG, MAX_TAGS = 500, 4000, 200, 32, 20
FIELDS = ("question", "similar", "answer", "variants", "tags", "enabled")


class BadEntry(BadRequest, ValueError):
    pass


def _text(value: object, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadEntry(f"{name} must be text")
    text = value.strip()
    if len(text) > limit:
        raise BadEntry(f"{name} must be at most {limit} characters")
    return text


def _texts(value: object, name: str, limit: int, count: int) -> list[str]:
    if not isinstance(value, list):
        raise BadEntry(f"{name} must be a list of texts")
    seen: dict[str, None] = {}
    for item in value:
        if not isinstance(item, str):
            raise BadEntry(f"{name} must be a list of texts")
        if item.strip():
            seen[_text(item, name, limit)] = None
    if len(seen) > count:
        raise BadEntry(f"{name} may hold at most {count} items")
    return list(seen)


def _answer(text: str) -> str:
    return check_outgoing(text, "desk", "knowledge-base")


def checked(fields: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """The fields of a new entry (all but similar, variants, tags, enabled
    required) or of an edit (`partial`: any subset), validated and clean."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise BadEntry(f"unknown fields: {', '.join(sorted(unknown))}")
    if not partial:
        for name in ("question", "answer"):
            if name not in fields:
                raise BadEntry(f"{name} is required")
    clean: dict[str, Any] = {}
    if "question" in fields:
        clean["question"] = _text(fields["question"], "question", MAX_QUESTION)
    if "answer" in fields:
        clean["answer"] = _answer(_text(fields["answer"], "answer", MAX_ANSWER))
    if "similar" in fields:
        clean["similar"] = _texts(fields["similar"], "similar", MAX_QUESTION, MAX_SIMILAR)
    if "tags" in fields:
        clean["tags"] = _texts(fields["tags"], "tags", MAX_TAG, MAX_TAGS)
    if "variants" in fields:
        variants = fields["variants"]
        if not isinstance(variants, dict):
            raise BadEntry("variants must map a channel to its answer")
        unknown_channels = set(variants) - set(CHANNELS)
        if unknown_channels:
            raise BadEntry(f"variants: unknown channels {', '.join(sorted(unknown_channels))}")
        clean["variants"] = {
            channel: _answer(_text(text, f"variants.{channel}", MAX_ANSWER))
            for channel, text in variants.items()
            if not (isinstance(text, str) and not text.strip())  # an emptied variant is removed
        }
    if "enabled" in fields:
        if type(fields["enabled"]) is not bool:
            raise BadEntry("enabled must be true or false")
        clean["enabled"] = fields["enabled"]
    return clean


def bump_revision(session: Session) -> None:
    session.execute(update(KbRevision).where(KbRevision.id == 1).values(revision=KbRevision.revision + 1))


def revision(session: Session) -> int:
    return session.execute(select(KbRevision.revision).where(KbRevision.id == 1)).scalar() or 0


def _commit(session: Session, entry: KbEntry) -> None:
    try:
        bump_revision(session)  # flushes the entry first: a duplicate question fails here
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"an entry with the question “{entry.question}” already exists")


def add_entry(session: Session, fields: dict[str, Any], by: str | None) -> KbEntry:
    clean = checked(fields)
    now = utcnow()
    entry = KbEntry(
        similar=[],
        variants={},
        tags=[],
        enabled=True,
        hits=0,
        helpful=0,
        unhelpful=0,
        updated_by=by,
        created_at=now,
        updated_at=now,
    )
    for name, value in clean.items():
        setattr(entry, name, value)
    session.add(entry)
    _commit(session, entry)
    return entry


def update_entry(session: Session, entry_id: int, fields: dict[str, Any], by: str | None) -> KbEntry | None:
    clean = checked(fields, partial=True)
    entry = session.get(KbEntry, entry_id)
    if entry is None:
        return None
    for name, value in clean.items():
        setattr(entry, name, value)
    entry.updated_by, entry.updated_at = by, utcnow()
    _commit(session, entry)
    return entry


def delete_entry(session: Session, entry_id: int) -> bool:
    entry = session.get(KbEntry, entry_id)
    if entry is None:
        return False
    session.delete(entry)
    bump_revision(session)
    session.commit()
    return True


def add_similar(session: Session, entry_id: int, text: str, by: str | None) -> KbEntry | None:
    """A question the bot missed, taught as one more way to ask this entry."""
    entry = session.get(KbEntry, entry_id)
    if entry is None:
        return None
    return update_entry(session, entry_id, {"similar": [*entry.similar, text]}, by)


def list_entries(session: Session, query: str | None = None) -> list[KbEntry]:
    """Every entry, or those whose texts or tags contain `query` (case-insensitive)."""
    entries = list(session.execute(select(KbEntry).order_by(KbEntry.id)).scalars())
    if not query or not query.strip():
        return entries
    needle = query.strip().lower()

    def haystack(e: KbEntry) -> str:
        return "\n".join([e.question, *e.similar, e.answer, *e.variants.values(), *e.tags]).lower()

    return [e for e in entries if needle in haystack(e)]


def count_hit(session: Session, entry_id: int) -> None:
    session.execute(update(KbEntry).where(KbEntry.id == entry_id).values(hits=KbEntry.hits + 1))
    session.commit()


def count_feedback(session: Session, entry_id: int, helped: bool) -> None:
    column = KbEntry.helpful if helped else KbEntry.unhelpful
    session.execute(update(KbEntry).where(KbEntry.id == entry_id).values({column: column + 1}))
    session.commit()


def entry_to_json(entry: KbEntry) -> dict:
    return {
        "id": entry.id,
        "question": entry.question,
        "similar": list(entry.similar),
        "answer": entry.answer,
        "variants": dict(entry.variants),
        "tags": list(entry.tags),
        "enabled": entry.enabled,
        "hits": entry.hits,
        "helpful": entry.helpful,
        "unhelpful": entry.unhelpful,
        "updated_by": entry.updated_by,
        "updated_at": local_iso(entry.updated_at),
    }


@dataclass(frozen=True)
class Found:
    """An entry that matched a question, as the bot and the desk use it."""

    id: int
    question: str
    answer: str
    variants: dict[str, str]
    score: float

    def text_for(self, channel: str) -> str:
        return self.variants.get(channel, self.answer)


@dataclass(frozen=True)
class Snapshot:
    revision: int
    index: KbIndex
    entries: dict[int, KbEntry]

    def search(self, text: str, limit: int = 3) -> list[Found]:
        return [self._found(m) for m in self.index.search(text, limit)]

    def entry(self, entry_id: int) -> Found | None:
        """An enabled entry by id, as if it matched exactly (None when gone or disabled)."""
        e = self.entries.get(entry_id)
        return None if e is None else Found(e.id, e.question, e.answer, dict(e.variants), 1.0)

    def _found(self, match: Match) -> Found:
        e = self.entries[match.entry_id]
        return Found(e.id, e.question, e.answer, dict(e.variants), match.score)


def snapshot(session: Session) -> Snapshot:
    """The enabled entries and their index, as of now."""
    current = revision(session)
    entries = {e.id: e for e in session.execute(select(KbEntry).where(KbEntry.enabled.is_(True))).scalars()}
    for e in entries.values():
        session.expunge(e)
    # The answer's words count too (at a lower weight), as in bench/kb_retrieval.py,
    # whose figures chose the bot's thresholds.
    index = KbIndex((e.id, [e.question, *e.similar], e.answer) for e in entries.values())
    return Snapshot(current, index, entries)


class KnowledgeCache:
    """One process's index of the knowledge base. It looks at the revision
    at most every `check_seconds` and rebuilds only when it moved, so an
    edit is live on every server within that time plus one rebuild."""

    def __init__(self, check_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.check_seconds = check_seconds
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._checked_at = float("-inf")

    def current(self, session: Session) -> Snapshot:
        now = self._clock()
        if self._snapshot is not None and now - self._checked_at < self.check_seconds:
            return self._snapshot
        self._checked_at = now
        if self._snapshot is None or revision(session) != self._snapshot.revision:
            self._snapshot = snapshot(session)
        return self._snapshot
