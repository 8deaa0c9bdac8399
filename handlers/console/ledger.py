"""The ledger (台账) as XLSX or CSV with the dashboard's filters, and the assessment report (考核通报).

A file is written to an anonymous temporary file first (rows streamed from the database, never all in
memory), the export is audited with its row count, then the file is sent.
"""
from __future__ import annotations

import tempfile

from flask import render_template, request, send_file

from intake.foundation.models import utcnow
from intake.supervision import ledger, report
from intake.supervision.figures import figures
from intake.supervision.spreadsheet import write_csv, write_xlsx
from intake.warnings import ledger as warnings

from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view
from .dashboard import filter_args, filter_choices, read_filters, today
from .labels import CHANNEL_LABELS, STATUS_LABELS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LABELS = ledger.Labels(STATUS_LABELS, CHANNEL_LABELS)


def send_export(out, name: str, mimetype: str, what: str, rows: int, **detail):
    record("export", what=what, rows=rows, **detail)
    db().commit()
    out.seek(0)
    return send_file(out, mimetype=mimetype, as_attachment=True, download_name=name)


def _name(filters) -> str:
    return f"台账-{filters.start or ''}至{filters.end or today()}"


@bp.get("/ledger.xlsx")
@staff_view("export")
def ledger_xlsx():
    filters, tz = read_filters(), services().settings.calendar.timezone
    out = tempfile.TemporaryFile()
    written = write_xlsx(out, [("台账", ledger.HEADER, ledger.rows(db(), scope(), filters, tz, LABELS)),
                               ("工人明细", ledger.LINES_HEADER, ledger.claim_lines(db(), scope(), filters, tz)),
                               ("预警", warnings.LEDGER_HEADER, warnings.ledger_rows(db(), scope(), filters, tz))])
    return send_export(out, _name(filters) + ".xlsx", XLSX, "ledger", written, format="xlsx", filters=filter_args(filters))


@bp.get("/ledger.csv")
@staff_view("export")
def ledger_csv():
    filters, tz = read_filters(), services().settings.calendar.timezone
    out = tempfile.TemporaryFile()
    if request.args.get("sheet") == "lines":
        written = write_csv(out, ledger.LINES_HEADER, ledger.claim_lines(db(), scope(), filters, tz))
        what, suffix = "ledger_lines", "-工人明细"
    elif request.args.get("sheet") == "warnings":
        written = write_csv(out, warnings.LEDGER_HEADER, warnings.ledger_rows(db(), scope(), filters, tz))
        what, suffix = "ledger_warnings", "-预警"
    else:
        written = write_csv(out, ledger.HEADER, ledger.rows(db(), scope(), filters, tz, LABELS))
        what, suffix = "ledger", ""
    return send_export(out, _name(filters) + suffix + ".csv", "text/csv; charset=utf-8", what, written, format="csv",
                 filters=filter_args(filters))


def _report_filters():
    kind = request.args.get("period", "weekly")
    kind = kind if kind in report.PERIODS else "weekly"
    return kind, report.period_filters(kind, today(), request.args.get("county", "")[:12])


@bp.get("/report")
@staff_view("export")
def report_page():
    kind, filters = _report_filters()
    found = figures(db(), scope(), filters, utcnow(), services().settings.calendar.timezone)
    return render_template("console/report.html", kind=kind, periods=report.PERIODS, filters=filters,
                           header=report.HEADER, rows=report.assessment_rows(found),
                           **filter_choices())


@bp.get("/report.xlsx")
@staff_view("export")
def report_xlsx():
    kind, filters = _report_filters()
    out = tempfile.TemporaryFile()
    written = report.write_report(out, db(), scope(), filters, utcnow(), services().settings.calendar.timezone)
    return send_export(out, f"考核通报-{filters.start}至{filters.end}.xlsx", XLSX, "report", written, period=kind,
                 county=filters.county)
