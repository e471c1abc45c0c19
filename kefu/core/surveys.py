"""满意度调查: a 1-5 question when a ticket is closed; a poor score (≤ 2)
reopens the ticket without an owner, for a supervisor to take. A score with
a comment ("2分，师傅来得太慢") records both: the comment goes on the
ticket's timeline (kind "survey")."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.models import Survey, Ticket, TicketEvent, TicketStatus, utcnow
from kefu.core.tickets import ticket_number
from kefu.text.ticket_talk import score_with_comment

POOR = 2
WORDS = (("非常不满意", 1), ("很不满意", 1), ("不满意", 2), ("一般", 3), ("非常满意", 5), ("很满意", 5), ("满意", 4))
SCORE = re.compile(r"^\s*([1-5])\s*(分|星)?\s*[。.!！]?\s*$")


def question(ticket: Ticket) -> str:
    return (
        f"您好，您的工单 {ticket_number(ticket.id)} 已处理完毕，感谢您的耐心等待！"
        "请您为本次服务打分：回复数字 1-5（5 分非常满意，1 分非常不满意），您的评价是我们改进的动力。"
    )


def open_survey(session: Session, ticket: Ticket) -> Survey | None:
    """At most one survey per ticket (a ticket closed twice asks once)."""
    if session.execute(select(Survey).where(Survey.ticket_id == ticket.id)).scalar_one_or_none() is not None:
        return None
    survey = Survey(ticket_id=ticket.id, customer_id=ticket.customer_id, agent_id=ticket.owner_id)
    session.add(survey)
    session.commit()
    return survey


def parse_score(text: str) -> int | None:
    found = SCORE.match(text or "")
    if found:
        return int(found.group(1))
    stripped = (text or "").strip(" 。.!！~")
    for word, score in WORDS:
        if stripped == word or stripped in (f"{word}的", f"挺{word}", f"比较{word}"):
            return score
    return None


def parse_answer(text: str) -> tuple[int, str] | None:
    """(score, comment) of a survey answer: "5", "满意", "2分，师傅来得太慢"."""
    score = parse_score(text)
    if score is not None:
        return score, ""
    return score_with_comment(text)


def pending(session: Session, customer_id: str) -> Survey | None:
    return session.execute(
        select(Survey)
        .where(Survey.customer_id == customer_id, Survey.score.is_(None))
        .order_by(Survey.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def answer(
    session: Session, customer_id: str, text: str, source_message_id: str | None = None
) -> tuple[int, bool] | None:
    """(score, reopened) when the text answers this customer's pending survey."""
    parsed = parse_answer(text)
    if parsed is None:
        return None
    score, comment = parsed
    survey = pending(session, customer_id)
    if survey is None:
        return None
    survey.score, survey.answered_at = score, utcnow()
    reopened = False
    ticket = session.get(Ticket, survey.ticket_id)
    if comment and ticket is not None:
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind="survey",
                note=f"客户评价 {score} 分：{comment[:500]}",
                source_message_id=source_message_id,
            )
        )
    if score <= POOR and ticket is not None and ticket.status == TicketStatus.closed.value:
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                from_status=ticket.status,
                to_status=TicketStatus.in_progress.value,
                note=f"满意度 {score} 分，重新打开，请主管跟进",
            )
        )
        ticket.status, ticket.owner_id, ticket.updated_at = TicketStatus.in_progress.value, None, utcnow()
        reopened = True
    session.commit()
    return score, reopened


def thanks(score: int, reopened: bool, commented: bool = False) -> str:
    heard = "您的意见已记录在工单中，" if commented else ""
    if reopened:
        return f"非常抱歉这次没能让您满意！{heard}您的工单已重新打开，主管会尽快与您联系跟进处理，感谢您的反馈。"
    return f"感谢您的评价！{heard}我们会继续努力为您提供更好的服务，祝您生活愉快！"


def forget(session: Session, survey_id: int) -> None:
    survey = session.get(Survey, survey_id)
    if survey is not None:
        session.delete(survey)
        session.commit()
