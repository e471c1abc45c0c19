"""Weekly figures (seed: 按周统计, 考核): tickets of one ISO week (China
time) by category, channel and status, the share answered within the
promised time, first-response and resolution times; the desk's queue:
handoffs, waiting time (average, p90), abandonment; per agent (tickets and
conversations handled) and per skill group. Supervisors see everyone; an
agent sees their own figures only (`agent_id`)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from statistics import mean

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.errors import BadRequest
from kefu.core.models import SHANGHAI, Agent, QueueWait, Survey, Ticket
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


def _p90(values: list[float]) -> float | None:
    """The 90th percentile by nearest rank: 9 in 10 waited at most this long."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)], 1)


def _queue_figures(waits: list[QueueWait]) -> dict[str, object]:
    answered = [w for w in waits if w.assigned_at is not None]
    abandoned = sum(1 for w in waits if w.abandoned)
    minutes = [m for w in answered if (m := _minutes(w.queued_at, w.assigned_at)) is not None]
    return {
        "handoffs": len(waits),
        "answered": len(answered),
        "abandoned": abandoned,
        "left_message": sum(1 for w in waits if w.left_message),
        "abandonment_rate": round(abandoned / len(waits), 3) if waits else None,
        "avg_wait_minutes": _avg(list(minutes)),
        "p90_wait_minutes": _p90(minutes),
    }


def weekly(session: Session, week: str | None, now: datetime, agent_id: int | None = None) -> dict:
    """The week's report; with `agent_id`, that agent's own figures only."""
    start, end, label = week_bounds(week, now)
    ticket_query = select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end)
    wait_query = select(QueueWait).where(QueueWait.queued_at >= start, QueueWait.queued_at < end)
    survey_query = select(Survey.score, Survey.agent_id).where(Survey.answered_at >= start, Survey.answered_at < end)
    if agent_id is not None:
        ticket_query = ticket_query.where(Ticket.owner_id == agent_id)
        wait_query = wait_query.where(QueueWait.agent_id == agent_id)
        survey_query = survey_query.where(Survey.agent_id == agent_id)
    tickets = list(session.execute(ticket_query.order_by(Ticket.id)).scalars())
    waits = list(session.execute(wait_query.order_by(QueueWait.id)).scalars())
    names = dict(session.execute(select(Agent.id, Agent.name)).all())
    scores = session.execute(survey_query).all()
    per_agent: dict[int, list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.owner_id is not None:
            per_agent[t.owner_id].append(t)
    served: dict[int, list[QueueWait]] = defaultdict(list)
    per_group: dict[str, list[QueueWait]] = defaultdict(list)
    for w in waits:
        if w.agent_id is not None and w.assigned_at is not None:
            served[w.agent_id].append(w)
        per_group[w.group_name or "未分组"].append(w)
    agent_ids = sorted(set(per_agent) | set(served), key=lambda a: (-len(per_agent[a]) - len(served[a]), a))
    return {
        "week": label,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "scope": "all" if agent_id is None else "own",
        **_figures(tickets, now),
        # Mean 1-5 score of the surveys answered this week; None when there were none.
        "csat": _avg([float(score) for score, _ in scores]),
        "surveys_answered": len(scores),
        **_queue_figures(waits),
        "by_category": dict(Counter(t.category for t in tickets).most_common()),
        "by_channel": dict(Counter(t.channel for t in tickets).most_common()),
        "by_status": dict(Counter(t.status for t in tickets).most_common()),
        "agents": [
            {
                "agent": names.get(a, str(a)),
                **_figures(per_agent[a], now),
                "csat": _avg([float(score) for score, owner in scores if owner == a]),
                "conversations": len(served[a]),
                "avg_handle_minutes": _avg(
                    [_minutes(w.assigned_at, w.ended_at) for w in served[a] if w.ended_at is not None]
                ),
            }
            for a in agent_ids
        ],
        "groups": []
        if agent_id is not None
        else [
            {"group": name, **_queue_figures(group_waits)}
            for name, group_waits in sorted(per_group.items(), key=lambda kv: -len(kv[1]))
        ],
    }


class _SafeWriter:
    """csv.writer whose every cell is spreadsheet-safe (kefu/text/spreadsheet.py):
    agent names and categories come from people and must not run as formulas."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: list) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])


LABELS = {
    "new": "新建",
    "in_progress": "处理中",
    "waiting_customer": "待客户回复",
    "resolved": "已解决",
    "closed": "已关闭",
    "rest": "网页接口",
    "socketio": "网页组件",
    "wechat": "微信",
    "wecom": "企业微信",
    "taobao": "淘宝",
    "tmall": "天猫",
}
TOTAL_COLUMNS = [
    ("tickets", "工单数"),
    ("resolved", "已解决"),
    ("answered_within_promise", "按时响应率"),
    ("avg_first_response_minutes", "平均首次响应(分钟)"),
    ("avg_resolution_hours", "平均解决(小时)"),
    ("csat", "满意度"),
    ("surveys_answered", "评价数"),
]
QUEUE_COLUMNS = [
    ("handoffs", "转人工会话"),
    ("answered", "已接入"),
    ("abandoned", "放弃排队"),
    ("left_message", "留言"),
    ("abandonment_rate", "放弃率"),
    ("avg_wait_minutes", "平均等待(分钟)"),
    ("p90_wait_minutes", "P90等待(分钟)"),
]
# An agent's ticket figures (not the survey count), then their conversations.
AGENT_COLUMNS = [
    *TOTAL_COLUMNS[:-1],
    ("conversations", "接待会话"),
    ("avg_handle_minutes", "平均接待时长(分钟)"),
]


def _cell(value: object) -> object:
    return "" if value is None else value


def to_csv(report: dict) -> str:
    """What Excel users expect: one table per section, one row per item,
    one column per figure, Chinese headers, a blank line between tables."""
    out = io.StringIO()
    w = _SafeWriter(out)
    title = "我的周报" if report.get("scope") == "own" else "客服周报"
    w.writerow([title, report["week"]])
    w.writerow([])
    w.writerow(["总计"])
    columns = TOTAL_COLUMNS + [c for c in QUEUE_COLUMNS if c[0] in report]
    w.writerow([label for _key, label in columns])
    w.writerow([_cell(report.get(key)) for key, _label in columns])
    for section, heading, item in (
        ("by_category", "按类别", "类别"),
        ("by_channel", "按渠道", "渠道"),
        ("by_status", "按状态", "状态"),
    ):
        w.writerow([])
        w.writerow([heading])
        w.writerow([item, "工单数"])
        for key, value in report[section].items():
            w.writerow([LABELS.get(key, key), value])
    w.writerow([])
    w.writerow(["按客服"])
    w.writerow(["客服"] + [label for _key, label in AGENT_COLUMNS])
    for row in report["agents"]:
        w.writerow([row["agent"]] + [_cell(row.get(key)) for key, _label in AGENT_COLUMNS])
    if report.get("groups"):
        w.writerow([])
        w.writerow(["按技能组"])
        w.writerow(["技能组"] + [label for _key, label in QUEUE_COLUMNS])
        for row in report["groups"]:
            w.writerow([row["group"]] + [_cell(row.get(key)) for key, _label in QUEUE_COLUMNS])
    # Excel opens UTF-8 CSV with Chinese correctly only with a BOM.
    return "\ufeff" + out.getvalue()
