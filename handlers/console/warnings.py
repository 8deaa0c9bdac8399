"""Warnings (预警) in scope: the list with filters, one warning with its figures, clocks and timeline, the staff's
steps (clear with a reason, turn into a case; record a public-opinion warning, verify it, report back), and the
county's upload of a site's payroll records, and an inspector's poster check-in."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from intake.foundation.models import PosterCheckIn, Site
from intake.foundation.models import utcnow as now
from intake.people.actors import actor_names
from intake.reading.photos import EvidenceError, check_photo
from intake.warnings import ledger, posters
from intake.warnings.indicators import FIGURE_LABELS, GRADE_LABELS
from intake.warnings.payroll import COLUMNS, KIND_LABELS, PayrollError, import_file

from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view

IMPORT_MAX_BYTES = 20 * 1024 * 1024


@bp.get("/warnings")
@staff_view("warnings")
def warnings():
    filters = {name: (request.args.get(name) or "").strip()[:30] for name in ("status", "grade", "indicator")}
    filters["status"] = filters["status"] if "status" in request.args else "live"
    rows = ledger.warnings_for(db(), scope(), **filters)
    return render_template("console/warnings.html", rows=rows, filters=filters, indicators=ledger.INDICATOR_LABELS,
                           grades=GRADE_LABELS, statuses=ledger.STATUS_LABELS, counts=ledger.counts(db(), scope()),
                           kinds=KIND_LABELS, columns=COLUMNS, zone=services().calendar.timezone, local=ledger.local,
                           may_import=scope().may("payroll_import"), sources=ledger.OPINION_SOURCES)


@bp.get("/warnings/<int:warning_id>")
@staff_view("warnings")
def warning(warning_id: int):
    found = ledger.warning_for(db(), scope(), warning_id) or abort(404)
    return render_template("console/warning.html", w=found, indicators=ledger.INDICATOR_LABELS, grades=GRADE_LABELS,
                           statuses=ledger.STATUS_LABELS, events=ledger.EVENT_LABELS, figures=FIGURE_LABELS,
                           zone=services().calendar.timezone, local=ledger.local,
                           deadlines=ledger.deadlines(db(), found) if found.status in ledger.LIVE else [],
                           verified=ledger.is_verified(found))


# A step on one warning: (the core's operation, the form field it reads, the audit name, what the user is told).
_STEPS = {"clear": (ledger.clear, "reason", "warning_clear", "预警已消除"),
          "verify": (ledger.verify_opinion, "note", "opinion_verify", "已记录核查情况"),
          "report": (ledger.report_opinion, "note", "opinion_report", "已反馈上报，舆情办结")}


@bp.post("/warnings/<int:warning_id>/<any(clear, verify, report):step>")
@staff_view("warnings")
def warning_step(warning_id: int, step: str):
    found = ledger.warning_for(db(), scope(), warning_id) or abort(404)
    operation, field, audit, done = _STEPS[step]
    try:
        operation(db(), scope(), found, request.form.get(field, ""), now())
    except ledger.WarningError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.warning", warning_id=warning_id), 303)
    record(audit, warning_id=warning_id)
    db().commit()
    flash(done, "ok")
    return redirect(url_for("console.warning", warning_id=warning_id), 303)


@bp.post("/warnings/opinion")
@staff_view("warnings")
def opinion_record():
    code = (request.form.get("site") or "").strip()
    site = db().scalar(select(Site).where(scope().sites(), Site.code == code)) if code else None
    if site is None:
        flash("请填写本辖区内的项目编号", "error")
        return redirect(url_for("console.warnings"), 303)
    try:
        found = ledger.record_opinion(db(), scope(), site, services().settings, now(),
                                      source=request.form.get("source", ""), link=request.form.get("link", ""),
                                      summary=request.form.get("summary", ""))
    except ledger.WarningError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.warnings"), 303)
    record("opinion_record", warning_id=found.id, site=site.code)
    db().commit()
    flash("已登记舆情，请在时限内核查落实并反馈上报", "ok")
    return redirect(url_for("console.warning", warning_id=found.id), 303)


@bp.post("/warnings/<int:warning_id>/case")
@staff_view("intake")
def warning_case(warning_id: int):
    found = ledger.warning_for(db(), scope(), warning_id) or abort(404)
    try:
        complaint = ledger.open_case(db(), scope(), found, now())
    except ledger.WarningError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.warning", warning_id=warning_id), 303)
    record("warning_case", ticket_no=complaint.ticket_no, warning_id=warning_id)
    db().commit()
    flash(f"已转为案件 {complaint.ticket_no}", "ok")
    return redirect(url_for("console.case", ticket_no=complaint.ticket_no), 303)


@bp.post("/payroll/import")
@staff_view("payroll_import")
def payroll_import():
    back = redirect(url_for("console.warnings"), 303)
    upload = request.files.get("file")
    code = (request.form.get("site") or "").strip()
    site = db().scalar(select(Site).where(scope().sites(), Site.code == code)) if code else None
    if site is None:
        flash("请填写本辖区内的项目编号", "error")
        return back
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件", "error")
        return back
    content = upload.read(IMPORT_MAX_BYTES + 1)
    if len(content) > IMPORT_MAX_BYTES:
        flash("文件太大（最多 20MB）", "error")
        return back
    try:
        report = import_file(db(), site, request.form.get("kind", ""), upload.filename, content)
    except PayrollError as exc:
        flash(f"未导入任何记录：{exc}", "error")
        return back
    if report.failed:
        db().rollback()
        flash(report.summary() + "；".join(str(e) for e in report.errors[:20]), "error")
        return back
    record("payroll_import", site=site.code, kind=report.kind, created=report.created, updated=report.updated)
    db().commit()
    flash(f"{site.name}：{report.summary()}", "ok")
    return back


@bp.route("/sites/<code>/poster-check", methods=["GET", "POST"])
@staff_view("warnings")
def poster_check(code: str):
    """An inspector at the site, on a phone: a photo of the poster in place (张贴在位); its EXIF time and place are
    kept with it and the poster's silence ends."""
    site = db().scalar(select(Site).where(scope().sites(), Site.code == code)) or abort(404)
    if request.method == "POST":
        upload = request.files.get("photo")
        content = upload.read(services().settings.uploads.max_photo_bytes + 1) if upload else b""
        try:
            photo = check_photo(upload.filename if upload else "", content, services().settings.uploads.max_photo_bytes,
                                keep_location=True)
        except EvidenceError as exc:
            flash(str(exc), "error")
            return redirect(url_for("console.poster_check", code=site.code), 303)
        posters.check_in(db(), scope(), site, photo, content, services().calendar.timezone, now(),
                         request.form.get("note", ""))
        record("poster_check", site=site.code)
        db().commit()
        flash("已记录张贴检查", "ok")
        return redirect(url_for("console.poster_check", code=site.code), 303)
    visits = db().scalars(select(PosterCheckIn).where(PosterCheckIn.site_id == site.id)
                          .order_by(PosterCheckIn.id.desc()).limit(20)).all()
    return render_template("console/poster_check.html", site=site, visits=visits, zone=services().calendar.timezone,
                           local=ledger.local, names=actor_names(db(), (v.actor for v in visits)),
                           keep_days=services().settings.privacy.check_in_photo_days)
