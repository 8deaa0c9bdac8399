"""常用回复: the department's list of ready-made messages to workers, kept by its own staff. The case page offers
them in its message form (handlers/console/case.py); this page adds and removes them."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from intake.case.canned import PER_DEPARTMENT, PLACEHOLDERS, add_reply, remove_reply, replies_of
from intake.case.cases import CaseError
from intake.foundation.models import Department

from ..runtime import db
from .blueprint import bp, record, scope, staff_view


@bp.get("/replies")
@staff_view("canned_replies")
def replies():
    department = db().get(Department, scope().department_id) if scope().department_id else None
    return render_template("console/replies.html", department=department,
                           replies=replies_of(db(), scope().department_id), placeholders=list(PLACEHOLDERS),
                           most=PER_DEPARTMENT)


@bp.post("/replies")
@staff_view("canned_replies")
def add_canned_reply():
    if scope().department_id is None:
        abort(403)  # a reply belongs to a department; supervisors without one keep none
    try:
        reply = add_reply(db(), db().get(Department, scope().department_id), title=request.form.get("title", ""),
                          text=request.form.get("text", ""), actor=scope().actor)
    except CaseError as exc:
        db().rollback()
        flash(str(exc), "error")
    else:
        record("canned_reply_added", reply_id=reply.id, title=reply.title)
        db().commit()
        flash(f"已添加常用回复“{reply.title}”", "ok")
    return redirect(url_for("console.replies"), 303)


@bp.post("/replies/<int:reply_id>/delete")
@staff_view("canned_replies")
def delete_canned_reply(reply_id: int):
    if scope().department_id is None:
        abort(403)
    reply = remove_reply(db(), scope().department_id, reply_id)
    if reply is None:
        abort(404)
    record("canned_reply_removed", reply_id=reply_id, title=reply.title)
    db().commit()
    flash(f"已删除常用回复“{reply.title}”", "ok")
    return redirect(url_for("console.replies"), 303)
