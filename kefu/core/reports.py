"""Weekly figures for supervisors (seed: 按周统计, 考核): tickets of one ISO
week (China time) by category, channel and status, the share answered within
the promised time, first-response and resolution times, per agent."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from statistics import mean

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest
from kefu.core.models import SHANGHAI, Agent, Survey, Ticket
from kefu.text.spreadsheet import safe_cell


class BadWeek(BadRequest, ValueError):
    pass


def week_bounds(week: str | None, now: datetime) -> tuple[datetime, datetime, str]:
    """`2026-W48` (or this week) as [Monday 00:00, next Monday) China time."""
    if week:
        # ASCII digits and a year a datetime can hold a week after: "9999-W52"
        # would overflow, full-width digits are no week anyone typed.
        found = re.fullmatch(r"([0-9]{4})-W([0-9]{1,2})", week)
        try:
            if found is None or not 1970 <= int(found[1]) <= 9998:
                raise ValueError
            monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            raise BadWeek(f"week must look like 2026-W48, not {week!r}") from None
    else:
        today = now.astimezone(SHANGHAI).date()
        monday = today - timedelta(days=today.weekday())
    start = datetime.combine(monday, time(0), tzinfo=SHANGHAI)
    iso = monday.isocalendar()
    return start, start + timedelta(days=7), f"{iso[0]}-W{iso[1]:02d}"


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() / 60 if a and b else None


def _avg(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return round(mean(found), 1) if found else None


def _figures(tickets: list[Ticket], now: datetime) -> dict[str, object]:
    # A ticket counts for the promise once answered or once its time is up.
    judged = [t for t in tickets if t.taken_at is not None or t.due_at <= now]
    kept = [t for t in judged if t.taken_at is not None and t.taken_at <= t.due_at]
    return {
        "tickets": len(tickets),
        "answered_within_promise": round(len(kept) / len(judged), 3) if judged else None,
        "avg_first_response_minutes": _avg([_minutes(t.created_at, t.taken_at) for t in tickets]),
        "avg_resolution_hours": _avg(
            [(m / 60 if m is not None else None) for m in (_minutes(t.created_at, t.resolved_at) for t in tickets)]
        ),
        "resolved": sum(1 for t in tickets if t.resolved_at is not None),
    }


def weekly(session: Session, week: str | None, now: datetime) -> dict:
    start, end, label = week_bounds(week, now)
    tickets = list(
        session.execute(
            select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end).order_by(Ticket.id)
        ).scalars()
    )
    names = dict(session.execute(select(Agent.id, Agent.name)).all())
    scores = session.execute(
        select(Survey.score, Survey.agent_id).where(Survey.answered_at >= start, Survey.answered_at < end)
    ).all()
    per_agent: dict[int, list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.owner_id is not None:
            per_agent[t.owner_id].append(t)
    return {
        "week": label,
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_figures(tickets, now),
        # Mean 1-5 score of the surveys answered this week; None when there were none.
        "csat": _avg([float(score) for score, _ in scores]),
        "surveys_answered": len(scores),
        "by_category": dict(Counter(t.category for t in tickets).most_common()),
        "by_channel": dict(Counter(t.channel for t in tickets).most_common()),
        "by_status": dict(Counter(t.status for t in tickets).most_common()),
        "agents": [
            {
                "agent": names.get(agent_id, str(agent_id)),
                **_figures(owned, now),
                "csat": _avg([float(score) for score, owner in scores if owner == agent_id]),
            }
            for agent_id, owned in sorted(per_agent.items(), key=lambda kv: -len(kv[1]))
        ],
    }


class _SafeWriter:
    """csv.writer whose every cell is spreadsheet-safe (kefu/text/spreadsheet.py):
    agent names and categories come from people and must not run as formulas."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: list) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])


def to_csv(report: dict) -> str:
    out = io.StringIO()
    w = _SafeWriter(out)
    w.writerow(["week", "section", "key", "value"])
    for key in (
        "tickets",
        "resolved",
        "answered_within_promise",
        "avg_first_response_minutes",
        "avg_resolution_hours",
        "csat",
        "surveys_answered",
    ):
        w.writerow([report["week"], "total", key, "" if report[key] is None else report[key]])
    for section in ("by_category", "by_channel", "by_status"):
        for key, value in report[section].items():
            w.writerow([report["week"], section, key, value])
    for row in report["agents"]:
        for key in (
            "tickets",
            "resolved",
            "answered_within_promise",
            "avg_first_response_minutes",
            "avg_resolution_hours",
            "csat",
        ):
            w.writerow([report["week"], f"agent:{row['agent']}", key, "" if row[key] is None else row[key]])
    # Excel opens UTF-8 CSV with Chinese correctly only with a BOM.
    return "\ufeff" + out.getvalue()
