"""The weekly report (按周统计): supervisors see everyone's figures, an
agent their own (kefu.core.permissions.can_read_reports)."""

from __future__ import annotations

from aiohttp import web

from kefu.core import reports
from kefu.core.models import utcnow
from kefu.core.permissions import can_read_reports
from kefu.desk.requests import AGENT, in_db


async def weekly_report(request: web.Request) -> web.Response:
    """`?week=2026-W48` (else this week; another spelling is reports.BadWeek,
    a 400); `?format=csv` downloads it."""
    agent = request[AGENT]
    own = None if can_read_reports(agent) else agent.id
    report = await in_db(request, reports.weekly, request.query.get("week"), utcnow(), own)
    if request.query.get("format") == "csv":
        name = f"kefu-report-{report['week']}" + ("" if own is None else f"-agent{own}")
        return web.Response(
            text=reports.to_csv(report),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return web.json_response(report)
