"""督导看板: the supervisors' figures, 两个清零 progress, charts and watch lists over the user's scope and the
chosen filters; the ledger export (ledger.py) takes the same filters and lists the same cases."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from flask import render_template, request
from sqlalchemy import select

from intake.case import findings as finding_register
from intake.foundation.models import Department, Industry, utcnow
from intake.foundation.texts import when_text
from intake.registry.directory import counties
from intake.supervision import exports, figures
from intake.warnings import ledger as warnings

from ..runtime import db, services
from .blueprint import bp, scope, staff_view
from .labels import EXPORT_STATE_LABELS, INVESTMENT_TEXT, STATUS_LABELS

DEFAULT_DAYS = 30


def today() -> date:
    return utcnow().astimezone(services().calendar.timezone).date()


def _day(text: str | None) -> date | None:
    try:
        return datetime.strptime((text or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        return None


def read_filters(default_days: int | None = DEFAULT_DAYS, args: Mapping[str, str] | None = None) -> figures.Filters:
    """The filters of the query string (or of `args`, a form's); a bad value is ignored rather than refused.
    Without dates, the last `default_days` days (None: all time)."""
    args = request.args if args is None else args
    start, end = _day(args.get("start")), _day(args.get("end"))
    if start is None and end is None and default_days is not None:
        end = today()
        start = end - timedelta(days=default_days - 1)
    department = args.get("department", "")
    industry, investment = args.get("industry", ""), args.get("investment", "")
    return figures.Filters(start=start, end=end, county=args.get("county", "")[:12],
                      department_id=int(department) if department.isdigit() else None,
                      industry=industry if industry in Industry._value2member_map_ else "",
                      investment=investment if investment in INVESTMENT_TEXT else "")


def filter_args(filters: figures.Filters) -> dict[str, str]:
    """The filters as query arguments, for the export links and the chart's own page."""
    values = {"start": filters.start.isoformat() if filters.start else "",
              "end": filters.end.isoformat() if filters.end else "", "county": filters.county,
              "department": str(filters.department_id) if filters.department_id else "",
              "industry": filters.industry, "investment": filters.investment}
    return {k: v for k, v in values.items() if v}


def filter_choices() -> dict:
    """The counties and departments a user can narrow to: those of their scope."""
    departments = select(Department).order_by(Department.jurisdiction_code, Department.kind)
    ids = scope().department_ids(db())
    if ids is not None:
        departments = departments.where(Department.id.in_(ids))
    shown = db().scalars(departments).all()
    codes = {d.jurisdiction_code for d in shown}
    return {"counties": [c for c in counties(db()) if ids is None or c.code in codes], "departments": shown,
            "industries": [i.value for i in Industry], "investments": INVESTMENT_TEXT}


def _due(complaint) -> datetime | None:
    """A supervised case's own deadline (挂牌督办期限), else its most urgent running one."""
    entry = (complaint.deadlines or {}).get("supervise")
    return datetime.fromisoformat(entry["due"]) if entry else complaint.next_due_at


@bp.get("/dashboard")
@staff_view()
def dashboard():
    filters = read_filters()
    settings, now, day = services().settings, utcnow(), today()
    tz = settings.calendar.timezone
    found = figures.figures(db(), scope(), filters, now, tz)
    series = figures.daily(db(), scope(), filters, tz, day)
    overdue = sorted((u for u in found.departments if u.tally.overdue), key=lambda u: -u.tally.overdue)[:15]
    charts = {
        "daily": {"labels": [d.strftime("%m-%d") for d, _, _ in series],
                  "received": [r for _, r, _ in series], "closed": [c for _, _, c in series]},
        "overdue": {"labels": [u.name for u in overdue], "values": [u.tally.overdue for u in overdue]},
    }
    return render_template(
        "console/dashboard.html", filters=filters, args=filter_args(filters), found=found, charts=charts,
        warnings=warnings.counts(db(), scope()), findings=finding_register.totals(db(), scope(), filters.county),
        targets=figures.clear_targets(db(), scope(), filters, settings.targets, day, tz),
        supervised=figures.supervised(db(), scope(), filters, tz),
        collective=figures.collective_and_urgent(db(), scope(), filters, tz),
        sites=figures.repeated_sites(db(), scope(), filters, day),
        employers=figures.repeated_employers(db(), scope(), filters, day),
        repeat_window=figures.repeat_window(filters, day),
        rate=figures.rate_text, statuses=STATUS_LABELS, now=now, when=lambda t: when_text(t, tz), due_of=_due,
        may_export=scope().may("export"), exports=exports.recent(db(), scope()),
        export_states=EXPORT_STATE_LABELS, **filter_choices())
