"""Member units: tasks with deadlines that supervisors give departments and counties, the units' answers with
their receipts, and each county's 清零 countdown. The rules live in intake.units; this parses and answers."""
from __future__ import annotations

import io
from datetime import date, datetime

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from intake.foundation.models import Jurisdiction, utcnow
from intake.people.staff import Role
from intake.units import countdown as cd
from intake.units import inspections as ins
from intake.units import tasks as ts

from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view
from .dashboard import today


def _local(moment: datetime) -> str:
    return moment.astimezone(services().calendar.timezone).strftime("%Y-%m-%d %H:%M")


@bp.get("/tasks")
@staff_view()
def tasks():
    now = utcnow()
    followed = ts.followed_tasks(db(), scope())
    return render_template("console/tasks.html", followed=[(t, ts.progress(t, now)) for t in followed],
                           units=ts.per_unit(followed, now), mine=ts.my_assignments(db(), scope()),
                           state_of=ts.state_of, now=now, kinds=ts.KINDS, local=_local)


def _issue_form(**values):
    counties = list(db().scalars(select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None))
                                 .order_by(Jurisdiction.code)))
    if scope().role is Role.COUNTY:
        counties = [c for c in counties if c.code == scope().jurisdiction_code]
    return render_template("console/task_new.html", kinds=ts.KINDS, departments=ts.departments_to_choose(db(), scope()),
                           counties=counties, values=values)


@bp.get("/tasks/new")
@staff_view("tasks")
def task_new():
    return _issue_form()


def _due(text: str) -> datetime:
    try:
        local = datetime.strptime((text or "").strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ts.TaskError("截止时间格式应为 年-月-日 时:分") from None
    return local.replace(tzinfo=services().calendar.timezone)


@bp.post("/tasks/new")
@staff_view("tasks")
def task_issue():
    form = request.form
    try:
        departments = [int(v) for v in form.getlist("department")]
    except ValueError:
        abort(400)
    try:
        task = ts.issue(db(), scope(), kind=form.get("kind", ""), title=form.get("title", ""),
                        body=form.get("body", ""), due_at=_due(form.get("due_at", "")), department_ids=departments,
                        county_codes=form.getlist("county"), now=utcnow(), calendar=services().calendar,
                        settings=services().settings.units)
    except ts.TaskError as exc:
        db().rollback()
        flash(str(exc), "error")
        return _issue_form(**form), 422
    record("task_issue", task_id=task.id, units=len(task.assignments))
    db().commit()
    flash("任务已下发", "ok")
    return redirect(url_for("console.task", task_id=task.id), 303)


@bp.get("/tasks/<int:task_id>")
@staff_view()
def task(task_id: int):
    found = ts.task_for(db(), scope(), task_id)
    if found is None:
        abort(404)
    now = utcnow()
    return render_template("console/task.html", task=found, rows=ts.progress(found, now),
                           mine=ts.my_part(found, scope()), now=now, kinds=ts.KINDS, local=_local,
                           types=", ".join(sorted(ts.FILE_TYPES)))


@bp.post("/tasks/<int:task_id>/answer")
@staff_view()
def task_answer(task_id: int):
    if ts.task_for(db(), scope(), task_id) is None:
        abort(404)
    uploads = [ts.Upload(f.filename or "", f.read(ts.MAX_FILE_BYTES + 1))
               for f in request.files.getlist("files") if f.filename]
    try:
        part = ts.answer(db(), scope(), task_id, request.form.get("answer", ""), uploads, utcnow())
    except ts.TaskError as exc:
        db().rollback()
        flash(str(exc), "error")
    else:
        record("task_answer", task_id=task_id, receipt=part.receipt_no, files=len(part.files))
        db().commit()
        flash(f"已报送，回执号 {part.receipt_no}（{_local(part.answered_at)}）", "ok")
    return redirect(url_for("console.task", task_id=task_id), 303)


@bp.get("/tasks/files/<int:file_id>")
@staff_view()
def task_file(file_id: int):
    found = ts.file_for(db(), scope(), file_id)
    if found is None:
        abort(404)
    return send_file(io.BytesIO(found.data), mimetype=found.content_type, as_attachment=True,
                     download_name=found.filename)


@bp.get("/countdown")
@staff_view("export")
def countdown():
    settings = services().settings.targets
    counties = cd.countdown(db(), scope(), settings, today(), settings.forecast_days)
    return render_template("console/countdown.html", counties=counties, text=cd.forecast_text,
                           days=settings.forecast_days, today=today())


ITEM_ROWS = 5  # rectification rows on the form; blank ones are skipped


def _inspection_form(**values):
    return render_template("console/inspection_new.html", counties=ins.counties_to_choose(db(), scope()),
                           departments=ts.departments_to_choose(db(), scope()), rows=range(ITEM_ROWS),
                           values=values), 422 if values else 200


@bp.get("/inspections")
@staff_view()
def inspections():
    now = utcnow()
    return render_template("console/inspections.html", followed=[(i, ins.rows(i, now)) for i in
                                                                 ins.followed(db(), scope())],
                           mine=ins.my_items(db(), scope(), now), overdue=ins.overdue(db(), scope(), now),
                           local=_local)


@bp.get("/inspections/new")
@staff_view("tasks")
def inspection_new():
    return _inspection_form()


def _day(text: str, label: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ts.TaskError(f"{label}格式应为 年-月-日") from None


def _items(form) -> list[ins.NewItem]:
    found = []
    for i in range(ITEM_ROWS):
        finding, owner, due = (form.get(f"{name}_{i}", "") for name in ("finding", "owner", "due"))
        if finding.strip() or owner or due.strip():
            found.append(ins.NewItem(finding, owner, _day(due, "整改期限")))
    return found


@bp.post("/inspections/new")
@staff_view("tasks")
def inspection_record():
    form = request.form
    department = form.get("department", "")
    try:
        inspection = ins.record(
            db(), scope(), inspected_on=_day(form.get("inspected_on", ""), "督查日期"), county=form.get("county", ""),
            department_id=int(department) if department.isdigit() else None, site_code=form.get("site", ""),
            inspectors=form.get("inspectors", ""), summary=form.get("summary", ""), items=_items(form), now=utcnow(),
            calendar=services().calendar, settings=services().settings.units)
    except ts.TaskError as exc:
        db().rollback()
        flash(str(exc), "error")
        return _inspection_form(**form)
    record("inspection_record", inspection_id=inspection.id, items=len(inspection.items))
    db().commit()
    flash("督查记录已保存，整改事项已交责任单位", "ok")
    return redirect(url_for("console.inspection", inspection_id=inspection.id), 303)


@bp.get("/inspections/<int:inspection_id>")
@staff_view()
def inspection(inspection_id: int):
    found = ins.inspection_for(db(), scope(), inspection_id)
    if found is None:
        abort(404)
    return render_template("console/inspection.html", inspection=found, rows=ins.rows(found, utcnow()),
                           mine=lambda item: ts.answers_for(scope(), item), local=_local)


@bp.post("/inspections/items/<int:item_id>/answer")
@staff_view()
def inspection_answer(item_id: int):
    item = ins.item_for(db(), scope(), item_id)
    if item is None:
        abort(404)
    try:
        ins.answer(db(), scope(), item, request.form.get("answer", ""), utcnow())
    except ts.TaskError as exc:
        db().rollback()
        flash(str(exc), "error")
    else:
        record("inspection_answer", inspection_id=item.inspection_id, item_id=item.id)
        db().commit()
        flash("整改情况已报送", "ok")
    return redirect(url_for("console.inspection", inspection_id=item.inspection_id), 303)
