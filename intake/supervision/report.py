"""The assessment figures (考核) per department for a period's 通报: 响应率, 受理按时率, 按时办结率, 满意率 and the
overdue counts, from intake.supervision.figures, as rows for a spreadsheet; the `qingling report` command and the
console's report page write the same file."""
from __future__ import annotations

from datetime import date, datetime
from typing import BinaryIO

from sqlalchemy.orm import Session

from intake.people.access import Scope

from .figures import Figures, Filters, Tally, figures, rate_text, report_period
from .spreadsheet import write_xlsx

PERIODS = {"weekly": "周", "monthly": "月"}
HEADER = ("区县", "承办部门", "收到投诉", "签收按时", "签收超期", "响应率", "受理按时率", "按时办结率", "办结答复超期",
          "销号", "销号率", "满意率", "期限超期（件次）", "当前超期未办", "欠薪金额（元）", "追回金额（元）")


def _row(county: str, department: str, t: Tally) -> tuple:
    return (county, department, t.received, t.ack_met, t.ack_missed, rate_text(t.ack_rate), rate_text(t.accept_rate),
            rate_text(t.reply_rate), t.reply_missed, t.closed, rate_text(t.closure_rate),
            rate_text(t.satisfaction_rate), t.missed, t.overdue, t.claimed, t.recovered)


def assessment_rows(found: Figures) -> list[tuple]:
    """Each department, then its county's total, then the grand total."""
    rows = []
    for county in found.counties:
        for unit in (u for u in found.departments if u.code == county.code):
            rows.append(_row(county.name, unit.name, unit.tally))
        rows.append(_row(county.name, "合计", county.tally))
    rows.append(_row("全部", "合计", found.total))
    return rows


def period_filters(kind: str, today: date, county: str = "") -> Filters:
    start, end = report_period(kind, today)
    return Filters(start=start, end=end, county=county)


def write_report(out: BinaryIO, session: Session, scope: Scope, filters: Filters, now: datetime,
                 timezone: str) -> int:
    found = figures(session, scope, filters, now, timezone)
    title = f"{filters.start:%Y%m%d}-{filters.end:%Y%m%d}"
    return write_xlsx(out, [(title, HEADER, assessment_rows(found))])
