"""Recording a petition (上访) from its own page: on a case named by its number, or on a case opened for the
petitioners when they have none. On a case page the same petition is the "petition" case action; the rules are
intake.case.petitions."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from intake.case import petitions
from intake.case.cases import CaseError
from intake.enforcement.actions import take
from intake.foundation.actions import CaseAction
from intake.foundation.validation import normalise_phone
from intake.people.access import case_for
from intake.registry.directory import counties

from ..runtime import case_context, db
from .actions import FORMS, petition_params, read_values
from .blueprint import bp, record, scope, staff_view


def _form(**values):
    shown = [c for c in counties(db()) if scope().is_city or c.code == scope().jurisdiction_code]
    return render_template("console/petition_new.html", fields=FORMS[CaseAction.PETITION].fields, counties=shown,
                           values=values), 422 if values else 200


@bp.get("/petitions/new")
@staff_view(CaseAction.PETITION)
def petition_new():
    return _form()


def _petition():
    """Record the posted petition; returns the case it is on. CaseError (nothing changed) for a bad value."""
    form, ctx = request.form, case_context()
    params = petition_params(read_values(FORMS[CaseAction.PETITION], form), ctx)
    ticket = form.get("ticket_no", "").strip()
    if ticket:
        complaint = case_for(db(), scope(), ticket)
        if complaint is None:
            raise CaseError("没有这个受理编号，或不在您的范围内")
        take(db(), complaint, ctx, scope(), CaseAction.PETITION, **params)
        return complaint
    phone = form.get("phone", "").strip()
    if phone and normalise_phone(phone) is None:
        raise CaseError("手机号不对，请填 11 位手机号")
    return petitions.open_case(db(), ctx, scope(), county=form.get("county", ""),
                               project_name=form.get("project_name", ""), phone=normalise_phone(phone), **params)


@bp.post("/petitions/new")
@staff_view(CaseAction.PETITION)
def petition_record():
    try:
        complaint = _petition()
    except CaseError as exc:
        db().rollback()
        flash(str(exc), "error")
        return _form(**request.form)
    record("petition", complaint.ticket_no)
    db().commit()
    flash(f"已记录上访（受理编号 {complaint.ticket_no}）", "ok")
    return redirect(url_for("console.case", ticket_no=complaint.ticket_no), 303)
