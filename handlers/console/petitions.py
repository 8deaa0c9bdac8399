"""Petitions (上访): the list of those the user's scope answers for (all, or one site's), and recording one from its
own page: on a case named by its number, against a site named by its code, or on a case opened for the
petitioners when they have none. On a case page the same petition is the "petition" case action; the rules are
intake.case.petitions."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from intake.case import petitions
from intake.case.cases import CaseError
from intake.enforcement.actions import take
from intake.foundation.actions import CaseAction
from intake.foundation.texts import when_text
from intake.foundation.validation import normalise_phone
from intake.people.access import case_for
from intake.registry.directory import counties

from ..runtime import case_context, db, services
from .actions import FORMS, petition_params, read_values
from .blueprint import bp, record, scope, staff_view


def _form(**values):
    shown = [c for c in counties(db()) if scope().is_city or c.code == scope().jurisdiction_code]
    return render_template("console/petition_new.html", fields=FORMS[CaseAction.PETITION].fields, counties=shown,
                           values=values), 422 if values else 200


@bp.get("/petitions")
@staff_view()
def petitions_list():
    code = request.args.get("site", "").strip()[:64]
    site = petitions.site_in_scope(db(), scope(), code) if code else None
    if code and site is None:
        abort(404)
    timezone = services().settings.calendar.timezone
    return render_template("console/petitions.html", petitions=petitions.listed(db(), scope(), site), site=site,
                           limit=petitions.LIST_MAX, local=lambda moment: when_text(moment, timezone))


@bp.get("/petitions/new")
@staff_view(CaseAction.PETITION)
def petition_new():
    return _form()


def _petition():
    """Record the posted petition; returns the case it is on (None: against a site). CaseError (nothing changed)
    for a bad value."""
    form, ctx = request.form, case_context()
    params = petition_params(read_values(FORMS[CaseAction.PETITION], form), ctx)
    ticket, site = form.get("ticket_no", "").strip(), form.get("site", "").strip()
    if ticket:
        complaint = case_for(db(), scope(), ticket)
        if complaint is None:
            raise CaseError("没有这个受理编号，或不在您的范围内")
        if site and (complaint.site is None or complaint.site.code != site):
            raise CaseError("这个案件不在所填的工地，请核对受理编号和工地编号")
        take(db(), complaint, ctx, scope(), CaseAction.PETITION, **params)
        return complaint
    if site:
        petitions.record_site_petition(db(), ctx, scope(), site_code=site, **params)
        return None
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
    if complaint is None:
        site = request.form["site"].strip()
        record("petition", site=site)
        db().commit()
        flash(f"已记录对工地 {site} 的上访，该工地的在办案件和责任部门已标记", "ok")
        return redirect(url_for("console.petitions_list", site=site), 303)
    record("petition", complaint.ticket_no)
    db().commit()
    flash(f"已记录上访（受理编号 {complaint.ticket_no}）", "ok")
    return redirect(url_for("console.case", ticket_no=complaint.ticket_no), 303)
