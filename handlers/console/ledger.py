"""The ledger (台账) as XLSX or CSV with the dashboard's filters, and the assessment report (考核通报).

A ledger is written off the request path: asking for one makes an export job (intake.supervision.exports), the
worker writes the file under the instance folder, and the job's page shows 生成中 until the file is there to
download (by its requester only, audited) until it expires. The old links (/ledger.xlsx, /ledger.csv) ask for
the job and lead to its page. The report is small and still written in the request: to an anonymous temporary
file first, the export audited with its row count, then the file sent.
"""
from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from flask import Flask, abort, current_app, flash, redirect, render_template, request, send_file, url_for

from intake.case import findings
from intake.foundation.models import utcnow
from intake.foundation.texts import when_text
from intake.supervision import exports, ledger, report
from intake.supervision.figures import Filters, figures
from intake.warnings import ledger as warnings

from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view
from .dashboard import filter_args, filter_choices, read_filters, today
from .labels import CHANNEL_LABELS, EXPORT_STATE_LABELS, STATUS_LABELS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIMETYPES = {".xlsx": XLSX, ".csv": "text/csv; charset=utf-8"}
LABELS = ledger.Labels(STATUS_LABELS, CHANNEL_LABELS)


def ledger_exporter(app: Flask) -> exports.Exporter:
    """How the worker writes exports and the console finds them: instance/exports/, the console's labels."""
    settings = services(app).settings
    return exports.Exporter(Path(app.instance_path) / "exports", LABELS, settings.calendar.timezone,
                            timedelta(hours=settings.worker.export_keep_hours),
                            extra={"ledger_warnings_csv": exports.Sheet("预警", warnings.LEDGER_HEADER,
                                                                        warnings.ledger_rows),
                                   "ledger_findings_csv": exports.Sheet("摸排线索", findings.LEDGER_HEADER,
                                                                        findings.ledger_rows)})


def send_export(out, name: str, mimetype: str, what: str, rows: int, **detail):
    record("export", what=what, rows=rows, **detail)
    db().commit()
    out.seek(0)
    return send_file(out, mimetype=mimetype, as_attachment=True, download_name=name)


def _ask(kind: str, filters: Filters):
    job = exports.request_export(db(), scope(), kind, filters, utcnow())
    record("export_requested", what=kind, job_id=job.id, filters=filter_args(filters))
    db().commit()
    return redirect(url_for("console.export_job", job_id=job.id), 303)


@bp.get("/ledger.xlsx")
@staff_view("export")
def ledger_xlsx():
    return _ask("ledger_xlsx", read_filters())


@bp.get("/ledger.csv")
@staff_view("export")
def ledger_csv():
    sheet = request.args.get("sheet")
    return _ask(f"ledger_{sheet}_csv" if sheet in ("lines", "warnings", "findings") else "ledger_csv", read_filters())


@bp.post("/exports")
@staff_view("export")
def export_request():
    kind = request.form.get("kind", "")
    if kind not in exports.KINDS:
        flash("请选择要导出的台账")
        return redirect(url_for("console.dashboard"), 303)
    return _ask(kind, read_filters(args=request.form))


@bp.get("/exports/<int:job_id>")
@staff_view("export")
def export_job(job_id: int):
    job = exports.job_for(db(), scope(), job_id) or abort(404)
    timezone = services().settings.calendar.timezone
    return render_template("console/export.html", job=job, state=EXPORT_STATE_LABELS[job.state],
                           when=lambda t: when_text(t, timezone))


@bp.get("/exports/<int:job_id>/file")
@staff_view("export")
def export_file(job_id: int):
    job = exports.job_for(db(), scope(), job_id) or abort(404)
    path = ledger_exporter(current_app).path(job)
    if job.state != exports.DONE or not path.is_file():
        abort(404)
    record("export_download", what=exports.KINDS[job.kind][0], job_id=job.id, rows=job.rows)
    db().commit()
    return send_file(path, mimetype=MIMETYPES[path.suffix], as_attachment=True, download_name=job.file_name)


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
