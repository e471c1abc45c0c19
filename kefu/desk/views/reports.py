"""The weekly report (按周统计), for supervisors."""

from __future__ import annotations

from aiohttp import web

from kefu.core import reports
from kefu.core.models import utcnow
from kefu.core.permissions import can_read_reports
from kefu.desk.requests import in_db, supervisor_required


@supervisor_required(can_read_reports)
async def weekly_report(request: web.Request) -> web.Response:
    """`?week=2026-W48` (else this week; another spelling is reports.BadWeek,
    a 400); `?format=csv` downloads it."""
    report = await in_db(request, reports.weekly, request.query.get("week"), utcnow())
    if request.query.get("format") == "csv":
        return web.Response(
            text=reports.to_csv(report),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="kefu-report-{report["week"]}.csv"'},
        )
    return web.json_response(report)
