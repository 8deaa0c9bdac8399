"""Worker-facing pages: the complaint form (a site's QR link or the general link), the receipt and the status lookup.

A complaint is committed before the receipt is shown. The receipt is readable only in the browser that sent the
complaint: its ticket number is kept in the signed session cookie, so trying ticket numbers shows nothing, and a
shared link (WeChat's "share" menu) opens nothing either.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select

from intake import cases
from intake.complaints import create_complaint, find_for_worker
from intake.directory import counties
from intake.models import Complaint, Site
from intake.sites import site_by_token
from intake.texts import event_text, status_text, when_text

from . import case_context, db, services
from .extensions import limiter, submitted_phone
from .forms import NOT_FOUND, ComplaintForm, ConfirmForm, GeneralComplaintForm, StatusForm

bp = Blueprint("public", __name__)
RECEIPTS_KEPT = 10
CONFIRMED_PAID = "谢谢您的确认，案件已结案。以后再遇到欠薪，随时扫码反映。"
CONFIRMED_UNPAID = "已收到，案件已重新交给负责部门处理，他们会再联系您。"


def _stored(response) -> bool:
    """The redirect to a receipt: a complaint was stored."""
    return response.status_code == 303


def _submit_limits(view):
    """Every post counts per address (junk posts cost photo decoding); per phone only stored complaints count, so
    mistyped numbers do not share one bucket and nobody can lock a worker out by typing their number."""
    view = limiter.limit(lambda: services().settings.ratelimit.submit_per_phone, key_func=submitted_phone,
                         methods=["POST"], deduct_when=_stored)(view)
    return limiter.limit(lambda: services().settings.ratelimit.submit_per_address, methods=["POST"])(view)


@bp.route("/s/<token>", methods=["GET", "POST"])
@_submit_limits
def site_form(token: str):
    site = site_by_token(db(), token)
    if site is None:
        abort(404)
    return _take(ComplaintForm(services().settings.uploads), site)


@bp.route("/", methods=["GET", "POST"])
@bp.route("/report", methods=["GET", "POST"])
@_submit_limits
def general_form():
    return _take(GeneralComplaintForm(services().settings.uploads, counties(db())))


def _take(form: ComplaintForm, site: Site | None = None):
    """Store a valid submission, commit, then redirect to the receipt; otherwise show the form with its errors."""
    if not form.validate_on_submit():
        return render_template("form.html", form=form, site=site,
                               photos_dropped=bool(form.errors and form.chosen_photos()))
    where = {"site_id": site.id} if site else {}
    complaint, _created = create_complaint(db(), form.new_complaint(**where), current_app.secret_key)
    db().commit()
    kept = [t for t in session.get("receipts", []) if t != complaint.ticket_no]
    session["receipts"] = [complaint.ticket_no, *kept][:RECEIPTS_KEPT]
    return redirect(url_for(".receipt", ticket_no=complaint.ticket_no), 303)


@bp.get("/r/<ticket_no>")
def receipt(ticket_no: str):
    if ticket_no not in session.get("receipts", []):
        abort(404)
    complaint = db().execute(select(Complaint).where(Complaint.ticket_no == ticket_no)).scalar_one()
    return _private(render_template("receipt.html", complaint=complaint))


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(lambda: services().settings.ratelimit.status_per_address, methods=["POST"])
def status():
    form = StatusForm(ticket_no=request.args.get("ticket", ""))
    complaint = find_for_worker(db(), form.ticket_no.data, form.phone_last4.data) \
        if form.validate_on_submit() else None
    if complaint is None:
        not_found = NOT_FOUND if form.is_submitted() and not form.errors else None
        return _private(render_template("status.html", form=form, not_found=not_found))
    return _status_page(form, complaint)


@bp.post("/status/confirm")
@limiter.limit(lambda: services().settings.ratelimit.status_per_address)
def confirm():
    """回访: the worker says whether the money arrived; yes closes the case, no reopens it."""
    form = ConfirmForm()
    complaint = find_for_worker(db(), form.ticket_no.data, form.phone_last4.data) \
        if form.validate_on_submit() and form.answer() is not None else None
    if complaint is None:
        return _private(render_template("status.html", form=StatusForm(formdata=None), not_found=NOT_FOUND))
    try:
        cases.confirm_payment(db(), complaint, case_context(), paid=form.answer(), actor="worker:web")
    except cases.CaseError as exc:
        return _status_page(form, complaint, notice=str(exc))
    db().commit()
    notice = CONFIRMED_PAID if form.answer() else CONFIRMED_UNPAID
    return _status_page(form, complaint, notice=notice)


def _status_page(form: StatusForm, complaint: Complaint, notice: str | None = None):
    timezone = services().settings.calendar.timezone
    timeline = [(when_text(e.created_at, timezone), event_text(e)) for e in reversed(complaint.events)]
    return _private(render_template("status.html", form=form, complaint=complaint, notice=notice,
                                    status=status_text(complaint.status), timeline=timeline,
                                    confirm=ConfirmForm(formdata=None, ticket_no=complaint.ticket_no,
                                                        phone_last4=form.phone_last4.data)))


def _private(html: str):
    """A worker's own case: kept out of shared phones' history caches and out of proxies."""
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response
