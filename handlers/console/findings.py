"""摸排 findings in the console: the county's register with filters and its figures, a finding entered by hand,
and the two ends of a finding (become a case, resolved on the spot), each audited. The rules are in
intake.case.findings; this only reads the forms and words the answers."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from intake.case import findings as reg
from intake.foundation.models import Site
from intake.foundation.models import utcnow as now
from intake.registry.sites import parse_date, whole

from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view

FIELDS = ("county", "site", "place", "employer", "amount", "workers", "found_by", "found_on", "note")


def _today():
    return now().astimezone(services().calendar.timezone).date()


@bp.get("/findings")
@staff_view("findings")
def findings():
    filters = {name: (request.args.get(name) or "").strip()[:20] for name in ("status", "county")}
    if filters["status"] not in reg.STATUS_TEXT:
        filters["status"] = ""
    counties = reg.counties(db(), scope())
    if filters["county"] not in {c.code for c in counties}:
        filters["county"] = ""
    return render_template("console/findings.html", rows=reg.findings_for(db(), scope(), **filters),
                           filters=filters, statuses=reg.STATUS_TEXT, counties=counties,
                           totals=reg.totals(db(), scope(), filters["county"]), today=_today())


@bp.post("/findings")
@staff_view("findings")
def finding_new():
    form = {name: (request.form.get(name) or "").strip() for name in FIELDS}
    back = redirect(url_for("console.findings"), 303)
    try:
        county = next((c.code for c in reg.counties(db(), scope()) if c.code == form["county"]), None)
        if county is None:
            raise reg.FindingError("请选择本辖区的区县")
        site = None
        if form["site"]:
            site = db().scalar(select(Site).where(Site.code == form["site"][:64], scope().sites()))
            if site is None:
                raise reg.FindingError(f"找不到工地编号“{form['site'][:30]}”（或不在本辖区）")
        try:
            found_on = parse_date(form["found_on"])
        except ValueError as exc:
            raise reg.FindingError(f"发现日期：{exc}") from None
        numbers = {}
        for name, label, high in (("amount", "估计金额", reg.AMOUNT_MAX), ("workers", "估计人数", reg.WORKERS_MAX)):
            try:
                numbers[name] = whole(form[name], 1, high)
            except ValueError as exc:
                raise reg.FindingError(f"{label}{exc}") from None
        finding = reg.add_finding(db(), county=county, site=site, place=form["place"], employer=form["employer"],
                                  found_by=form["found_by"], found_on=found_on, note=form["note"],
                                  actor=scope().actor, today=_today(), **numbers)
    except reg.FindingError as exc:
        db().rollback()
        flash(f"没有登记：{exc}", "error")
        return back
    record("finding_added", finding_id=finding.id, county=county)
    db().commit()
    flash(f"已登记摸排线索 {finding.id}", "ok")
    return back


@bp.post("/findings/<int:finding_id>/<any(case, resolve):step>")
@staff_view("findings")
def finding_step(finding_id: int, step: str):
    finding = reg.finding_for(db(), scope(), finding_id) or abort(404)
    back = redirect(url_for("console.findings"), 303)
    try:
        if step == "case":
            complaint = reg.open_case(db(), finding, actor=scope().actor, now=now())
        else:
            try:
                paid = whole(request.form.get("amount_paid"), 0, reg.AMOUNT_MAX)
            except ValueError as exc:
                raise reg.FindingError(f"当场支付金额{exc}") from None
            reg.resolve_on_spot(db(), finding, amount_paid=paid, actor=scope().actor, now=now())
    except reg.FindingError as exc:
        db().rollback()
        flash(str(exc), "error")
        return back
    if step == "case":
        record("finding_case", finding_id=finding.id, ticket_no=complaint.ticket_no)
        db().commit()
        flash(f"已立案：案件 {complaint.ticket_no}，将按属地和行业派给承办部门", "ok")
        return back
    record("finding_resolved", finding_id=finding.id, amount_paid=finding.amount_paid)
    db().commit()
    flash(f"已记为当场解决，支付 {finding.amount_paid} 元", "ok")
    return back
