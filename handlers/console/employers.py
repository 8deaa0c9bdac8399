"""The employer register: employers of the cases in scope, their complaints and sites; supervisors record
their 统一社会信用代码 and 黑名单 / 失信 listings (audited), and export the listings in force for 信用中国."""
from __future__ import annotations

import tempfile

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from intake.supervision import employers as reg
from intake.supervision.spreadsheet import write_csv

from ..runtime import db
from .blueprint import bp, record, scope, staff_view
from .dashboard import today
from .labels import STATUS_LABELS
from .ledger import send_export


def _back(name: str):
    return redirect(url_for("console.employer", name=name), 303)


def _authority() -> str:
    """The unit a listing is decided by: the user's department, else their county, else the city."""
    account = current_user.account
    if account.department is not None:
        return account.department.name
    return account.jurisdiction.name if account.jurisdiction is not None else "市根治欠薪工作领导小组办公室"


@bp.get("/employers")
@staff_view()
def employers():
    q = (request.args.get("q") or "").strip()[:100]
    return render_template("console/employers.html", rows=reg.register(db(), scope(), today(), q), q=q,
                           may_list=scope().may("blacklist"))


@bp.get("/employers/view")
@staff_view()
def employer():
    name = reg.normalise_name(request.args.get("name"))
    complaints = reg.complaints_of(db(), scope(), name) if name else []
    if not complaints:
        abort(404)  # an employer is seen only through complaints in scope
    sites = list({c.site.id: c.site for c in complaints if c.site is not None}.values())
    return render_template("console/employer.html", name=name, found=reg.employer(db(), name), complaints=complaints,
                           sites=sites, statuses=STATUS_LABELS, kinds=reg.LISTING_KINDS, today=today(),
                           in_force=reg.in_force, default_term=reg.DEFAULT_TERM_YEARS,
                           may_list=scope().may("blacklist"), may_draft=scope().may("blacklist_draft"),
                           actor=scope().actor)


def _in_scope(name: str | None) -> str:
    name = reg.normalise_name(name)
    if not name or not reg.complaints_of(db(), scope(), name):
        abort(404)
    return name


def _change(name: str, action: str, change, **detail):
    try:
        change()
    except reg.RegisterError as exc:
        db().rollback()
        flash(str(exc), "error")
    else:
        record(action, employer=name, **detail)
        db().commit()
        flash("已保存", "ok")
    return _back(name)


@bp.post("/employers/code")
@staff_view("blacklist")
def employer_code():
    name, code = _in_scope(request.form.get("name")), request.form.get("credit_code", "")
    return _change(name, "employer_code", lambda: reg.set_credit_code(db(), name, code), credit_code=code.strip())


@bp.post("/employers/list")
@staff_view("blacklist_draft")
def employer_list():
    """A draft listing: in force only once another supervisor approves it."""
    form = request.form
    name = _in_scope(form.get("name"))
    try:
        term = int(form.get("term_years") or reg.DEFAULT_TERM_YEARS)
    except ValueError:
        flash("请填写期限（年）", "error")
        return _back(name)
    kind, basis = form.get("kind", ""), form.get("basis", "")
    return _change(name, "employer_listing_drafted",
                   lambda: reg.list_employer(db(), name, kind=kind, basis=basis, listed_on=today(), term_years=term,
                                             actor=scope().actor, authority=_authority(), draft=True),
                   kind=kind, basis=basis.strip()[:200], term_years=term)


def _listing_id(name: str) -> int:
    """The posted listing of this employer (404 for any other)."""
    listing_id = request.form.get("listing_id", "")
    found = reg.employer(db(), name)
    if not listing_id.isdigit() or found is None or int(listing_id) not in {li.id for li in found.listings}:
        abort(404)
    return int(listing_id)


@bp.post("/employers/decide")
@staff_view("blacklist")
def employer_decide():
    name = _in_scope(request.form.get("name"))
    listing_id, approve = _listing_id(name), request.form.get("approve") == "yes"
    note = request.form.get("note", "")
    return _change(name, "employer_listed" if approve else "employer_listing_rejected",
                   lambda: reg.decide_listing(db(), listing_id, approve=approve, note=note, today=today(),
                                              actor=scope().actor),
                   listing_id=listing_id, note=note.strip()[:200])


@bp.post("/employers/unlist")
@staff_view("blacklist")
def employer_unlist():
    name = _in_scope(request.form.get("name"))
    listing_id, reason = _listing_id(name), request.form.get("reason", "")
    return _change(name, "employer_unlisted",
                   lambda: reg.remove_listing(db(), listing_id, reason=reason, removed_on=today(), actor=scope().actor),
                   listing_id=listing_id, reason=reason.strip()[:200])


@bp.get("/employers/credit.csv")
@staff_view("blacklist")
def credit_csv():
    out = tempfile.TemporaryFile()
    written = write_csv(out, reg.CREDIT_HEADER, reg.credit_rows(db(), today()))
    return send_export(out, f"失信名单-{today()}.csv", "text/csv; charset=utf-8", "credit_listings", written, format="csv")
