"""陈案积案 and 摸排 import from the console, for the city administrator: the same import as `qingling backlog
import` (intake.case.backlog), one upload, all rows or none; 摸排 rows go to the register of findings."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from intake.case.backlog import COLUMNS, import_backlog
from intake.foundation.models import utcnow

from ..runtime import db, services
from .blueprint import bp, record, staff_view

IMPORT_MAX_BYTES = 20 * 1024 * 1024
SHOWN_ERRORS = 20


@bp.get("/backlog")
@staff_view("backlog_import")
def backlog():
    return render_template("console/backlog.html", columns=list(COLUMNS))


@bp.post("/backlog")
@staff_view("backlog_import")
def backlog_import():
    upload = request.files.get("file")
    back = redirect(url_for("console.backlog"), 303)
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件", "error")
        return back
    content = upload.read(IMPORT_MAX_BYTES + 1)
    if len(content) > IMPORT_MAX_BYTES:
        flash("文件太大（最多 20MB）", "error")
        return back
    svc = services()
    report = import_backlog(db(), upload.filename, content, svc.settings, svc.calendar, utcnow())
    if report.failed:
        db().rollback()
        problems = [report.file_error] if report.file_error else report.errors[:SHOWN_ERRORS]
        flash("有错误，没有导入任何案件：" + "；".join(problems), "error")
        return back
    record("backlog_import", filename=upload.filename[:200], created=len(report.created), findings=report.findings,
           already=report.already)
    db().commit()
    flash(f"已导入陈案 {len(report.created)} 件（已派给各承办部门，待签收），摸排线索 {report.findings} 条"
          f"（见摸排线索），之前已导入 {report.already} 行。", "ok")
    return back
