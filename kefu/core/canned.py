"""快捷回复: canned replies, seeded from kefu/core/data/canned_replies.yml once and
then edited by supervisors. Every text passes the advertising-law check."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest
from kefu.core.models import CannedReply, utcnow
from kefu.text.ad_law import check_outgoing

DATA_FILE = Path(__file__).resolve().parent / "data" / "canned_replies.yml"
MAX_TITLE, MAX_TEXT = 32, 1000


class BadCannedReply(BadRequest, ValueError):
    pass


def _checked(title: object, text: object) -> tuple:
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE:
        raise BadCannedReply(f"title must be 1 to {MAX_TITLE} characters")
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
        raise BadCannedReply(f"text must be 1 to {MAX_TEXT} characters")
    # Stored already clean, so an agent never inserts a banned word.
    return title.strip(), check_outgoing(text.strip(), "desk", "canned-replies")


def list_replies(session: Session) -> list[CannedReply]:
    if session.execute(select(func.count()).select_from(CannedReply)).scalar() == 0:
        seed(session)
    return list(session.execute(select(CannedReply).order_by(CannedReply.position, CannedReply.id)).scalars())


def seed(session: Session) -> None:
    for position, item in enumerate(yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))):
        title, text = _checked(item["title"], item["text"])
        session.add(CannedReply(title=title, text=text, position=position))
    session.commit()


def add_reply(session: Session, title: object, text: object) -> CannedReply:
    title, text = _checked(title, text)
    last = session.execute(select(func.max(CannedReply.position))).scalar() or 0
    reply = CannedReply(title=title, text=text, position=last + 1)
    session.add(reply)
    session.commit()
    return reply


def update_reply(session: Session, reply_id: int, title: object, text: object) -> CannedReply | None:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        return None
    reply.title, reply.text = _checked(title, text)
    reply.updated_at = utcnow()
    session.commit()
    return reply


def delete_reply(session: Session, reply_id: int) -> bool:
    reply = session.get(CannedReply, reply_id)
    if reply is None:
        return False
    session.delete(reply)
    session.commit()
    return True


def reply_to_json(reply: CannedReply) -> dict:
    return {"id": reply.id, "title": reply.title, "text": reply.text}
