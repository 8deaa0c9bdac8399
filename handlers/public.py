"""Worker-facing pages: the complaint form (a site's QR link or the general link), the receipt and the status lookup.

A complaint is committed before the receipt is shown; while the database cannot store it, the form comes back
(503) with what the worker typed, an apology and the hotline, and nothing is stored until a later tap. The
receipt is readable only in the browser that sent the complaint: its ticket number is kept in the signed session
cookie, so trying ticket numbers shows nothing, and a shared link (WeChat's "share" menu) opens nothing either.
"""
from __future__ import annotations

import logging
from functools import partial

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from intake.case import cases
from intake.case.complaints import create_complaint, find_for_worker
from intake.case.links import DOCUMENTS_MAX_AGE_DAYS, confirmed_complaint, documents_complaint, documents_token
from intake.enforcement.dossier import dossier, order_of, order_paper
from intake.enforcement.orders import orders_of
from intake.foundation.models import ClaimLine, Complaint, Confirmation, Site, utcnow
from intake.foundation.texts import event_text, status_text, when_text
from intake.people.audit import audit
from intake.registry.directory import county_refs
from intake.registry.sites import site_by_token
from intake.supervision.employers import credit_rows
from intake.warnings.posters import ScanTally

from .documents import dossier_zip, download, order_pdf
from .errors import MESSAGES, csrf_expired_page, when_unavailable
from .extensions import limiter, submitted_phone
from .forms import (
    NOT_FOUND,
    ComplaintForm,
    ConfirmForm,
    GeneralComplaintForm,
    StatusForm,
    WorkerMessageForm,
    photo_sender,
)
from .posters import poster_font
from .runtime import case_context, db, services

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)
RECEIPTS_KEPT = 10
CONFIRMED_PAID = "谢谢您的确认，案件已结案。以后再遇到欠薪，随时扫码反映。"
CONFIRMED_UNPAID = "已收到，案件已重新交给负责部门处理，他们会再联系您。"
LINE_PAID = "谢谢您的确认，已记下您的工资已经到手。"
LINE_UNPAID = "已记下您的工资没收到或不够，已转给负责部门核实，他们会再联系您。"
CHANGED_MEANWHILE = "案件刚刚有了新进展，请看下面最新的办理情况。"
MESSAGE_SENT = "已转给负责部门，他们会看到您补充的内容。"
GRADED = "谢谢您的评价，我们会继续改进。"
# Tickets this browser has opened (ticket and phone digits, or the signed link): their pages take a message.
OPENED_KEPT = 10
FORMS = ("public.site_form", "public.general_form")
SCANS = "qingling_scans"  # app.extensions key of this process's ScanTally
# County names as last read, so the form can come back with the worker's choice while the database is down.
_county_names: dict[str, str] = {}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it on every page, whatever the page links."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=86400)


def _stored(response) -> bool:
    """The redirect to a receipt: a complaint was stored."""
    return response.status_code == 303


def _submit_limits(view):
    """Every post counts per address (junk posts cost photo decoding); per phone only stored complaints count, so
    a mistyped number costs the worker nothing. (Someone who knows a worker's number can still use up its day's
    quota by filing complaints under it; staff see those complaints, and the worker can call the hotline.)"""
    view = limiter.limit(lambda: services().settings.ratelimit.submit_per_phone, key_func=submitted_phone,
                         methods=["POST"], deduct_when=_stored)(view)
    return limiter.limit(lambda: services().settings.ratelimit.submit_per_address, methods=["POST"])(view)


@bp.get("/exposure")
def exposure():
    """集中公开曝光: the 失信 listings in force, as approved by a supervisor, with the decision and its date; they
    name employers only (the same rows as the file for 信用中国), never a worker."""
    today = utcnow().astimezone(services().calendar.timezone).date()
    response = make_response(render_template("exposure.html", rows=list(credit_rows(db(), today)), today=today))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/rights")
def rights():
    """维权须知: what to have ready and what happens next; the official account's menu links here."""
    return render_template("rights.html")


@bp.route("/s/<token>", methods=["GET", "POST"])
@_submit_limits
def site_form(token: str):
    site = site_by_token(db(), token)
    if site is None:
        abort(404)
    if request.method != "GET":
        return _take(ComplaintForm(services().settings.uploads), site)
    # The poster's QR link opened: counted for the site's day, nothing about who; written in batches, after a page.
    due = scan_tally(current_app).add(site.id, utcnow().astimezone(services().calendar.timezone).date())
    response = make_response(_take(ComplaintForm(services().settings.uploads), site))
    if due:
        response.call_on_close(partial(write_scans, current_app._get_current_object()))
    return response


def scan_tally(app: Flask) -> ScanTally:
    """This process's count of QR form opens (made in the process that serves, after gunicorn's fork)."""
    if SCANS not in app.extensions:
        app.extensions[SCANS] = ScanTally(services(app).settings.poster.scan_write_seconds)
    return app.extensions[SCANS]


def write_scans(app: Flask) -> None:
    """Write the counted opens in a short transaction of their own, once the page that found them due has been
    sent (and when a gunicorn worker stops: gunicorn.conf.py). A failed write is logged and its counts dropped:
    they are a trend for the warnings, and the page was served."""
    tally = app.extensions.get(SCANS)
    if tally is None:  # this process served no QR form page
        return
    try:
        with services(app).sessions.begin() as session:
            tally.write(session)
    except DBAPIError:
        log.exception("QR form opens not written")


@bp.route("/", methods=["GET", "POST"])
@bp.route("/report", methods=["GET", "POST"])
@_submit_limits
def general_form():
    known = county_refs(db())  # the chat's cached list (a minute; a directory load clears it), not a query per page
    _county_names.update((c.code, c.name) for c in known)
    return _take(GeneralComplaintForm(services().settings.uploads, known))


def _as_typed(known: list) -> ComplaintForm:
    """The posted complaint form filled with what the worker typed, with its submission key, so the later tap
    that stores it is deduplicated as usual; `known` are the counties to offer (the typed one always)."""
    uploads = services().settings.uploads
    if request.endpoint != "public.general_form":
        return ComplaintForm(uploads)
    form = GeneralComplaintForm(uploads, known)
    typed = request.form.get("county", "")
    if typed and typed not in {code for code, _ in form.county.choices}:
        form.county.choices += [(typed, _county_names.get(typed, typed))]
    return form


def _unsaved():
    """The database is unavailable: a posted form comes back as typed (photos must be chosen again: a browser
    cannot put files back)."""
    if request.method != "POST" or request.endpoint not in FORMS:
        title, text = MESSAGES[503]
        return render_template("error.html", title=title, text=text)
    form = _as_typed([])
    return render_template("form.html", form=form, site=None, unsaved=True,
                           photos_dropped=bool(form.chosen_photos()))


def _expired(error: CSRFError):
    """A complaint form posted after its CSRF token or session cookie expired (a phone left on the page for a
    day, WeChat's browser dropping its cookies) comes back as typed with a fresh token and one plain sentence,
    never an empty "页面已过期" page; nothing is stored until the next tap. Other forms get the error page."""
    if request.method != "POST" or request.endpoint not in FORMS:
        return csrf_expired_page(error)
    site = None
    if request.endpoint == "public.site_form":
        site = site_by_token(db(), (request.view_args or {}).get("token", ""))
        if site is None:
            abort(404)
    form = _as_typed(list(county_refs(db())) if site is None else [])
    return render_template("form.html", form=form, site=site, expired=True,
                           photos_dropped=bool(form.chosen_photos())), 400


bp.register_error_handler(DBAPIError, when_unavailable(_unsaved))
bp.register_error_handler(CSRFError, _expired)


def _take(form: ComplaintForm, site: Site | None = None):
    """Store a valid submission, commit, then redirect to the receipt; otherwise show the form with its errors."""
    if not form.validate_on_submit():
        return render_template("form.html", form=form, site=site,
                               photos_dropped=bool(form.errors and form.chosen_photos()))
    where = {"site_id": site.id} if site else {}
    complaint, _created = create_complaint(db(), form.new_complaint(
        risk_words=services().settings.reading.all_risk_words(), **where))
    db().commit()
    kept = [t for t in session.get("receipts", []) if t != complaint.ticket_no]
    session["receipts"] = [complaint.ticket_no, *kept][:RECEIPTS_KEPT]
    return redirect(url_for(".receipt", ticket_no=complaint.ticket_no), 303)


@bp.get("/r/<ticket_no>")
def receipt(ticket_no: str):
    complaint = None
    if ticket_no in session.get("receipts", []):
        complaint = db().scalar(select(Complaint).where(Complaint.ticket_no == ticket_no))
    if complaint is None:
        abort(404)
    return _private(render_template("receipt.html", complaint=complaint))


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(lambda: services().settings.ratelimit.status_per_address, methods=["POST"])
def status():
    form = StatusForm(ticket_no=request.args.get("ticket", ""))
    complaint = find_for_worker(db(), form.ticket_no.data, form.phone_last4.data) \
        if form.validate_on_submit() else None
    db().commit()  # a failed look-up counts towards the ticket's lock
    if complaint is None:
        not_found = NOT_FOUND if form.is_submitted() and not form.errors else None
        return _private(render_template("status.html", form=form, not_found=not_found))
    _opened(complaint)
    return _status_page(complaint, form=form)


@bp.post("/status/<ticket_no>/message")
@limiter.limit(lambda: services().settings.ratelimit.status_per_address)
def worker_message(ticket_no: str):
    """The worker adds words or photos to their open case, from a page this browser opened with the ticket and
    phone digits (or the signed link): the same path as a chat message after the receipt."""
    complaint = None
    if ticket_no in session.get("opened", []):
        complaint = db().scalar(select(Complaint).where(Complaint.ticket_no == ticket_no))
    if complaint is None:
        abort(404)
    form = WorkerMessageForm(services().settings.uploads,
                             photo_sender(complaint.complainant.phone, f"case:{complaint.ticket_no}"))
    if complaint.status == "closed" or not form.validate_on_submit():
        return _status_page(complaint, message=form)
    cases.take_worker_message(db(), complaint, channel="web", text=(form.text.data or "").strip(),
                              photos=form.checked_photos, now=case_context().now)
    db().commit()
    return _status_page(complaint, notice=MESSAGE_SENT)


def _opened(complaint: Complaint) -> None:
    kept = [t for t in session.get("opened", []) if t != complaint.ticket_no]
    session["opened"] = [complaint.ticket_no, *kept][:OPENED_KEPT]


@bp.route("/c/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: services().settings.ratelimit.status_per_address, methods=["POST"])
def confirm(token: str):
    """回访 from the signed link in the worker's 办结 notice: the answer of the complainant, or of the one worker of
    the case the link was made for (intake.case.cases.confirm_payment says what it changes); once closed, the
    complainant's grade of the case (intake.case.cases.rate) from the same link."""
    found = confirmed_complaint(db(), services().settings, token)
    if found is None:
        abort(404)
    complaint, line = found
    _opened(complaint)
    complaint_id = complaint.id
    form = ConfirmForm()
    grade = form.grade() if line is None else None
    if not form.validate_on_submit() or form.answer() is None and grade is None:
        return _status_page(complaint, confirm=form, line=line)
    try:
        if grade is not None:
            cases.rate(db(), complaint, case_context(), satisfaction=grade, actor="worker:web")
        else:
            cases.confirm_payment(db(), complaint, case_context(), paid=form.answer(), actor="worker:web", line=line)
        db().commit()
    except cases.CaseError as exc:
        db().rollback()
        return _status_page(complaint, notice=str(exc))
    except StaleDataError:
        db().rollback()
        return _status_page(db().get(Complaint, complaint_id), notice=CHANGED_MEANWHILE)
    if grade is not None:
        return _status_page(complaint, notice=GRADED)
    if line is not None:
        return _status_page(complaint, notice=LINE_PAID if form.answer() else LINE_UNPAID)
    return _status_page(complaint, confirm=form, notice=CONFIRMED_PAID if form.answer() else CONFIRMED_UNPAID)


@bp.get("/d/<token>/dossier.zip")
def worker_dossier(token: str):
    """The worker's own copy of their case (their timeline, the orders, their files with the chain's hashes),
    from the signed link on their status page; audited like a staff export."""
    complaint = _documents_case(token)
    settings = services().settings
    body = dossier_zip(dossier(db(), complaint, settings.calendar.timezone, for_worker=True), poster_font(settings),
                       utcnow())
    _audit_worker(complaint, "dossier_export", copy="worker")
    return download(body, "application/zip", f"dossier-{complaint.ticket_no}.zip")


@bp.get("/d/<token>/orders/<int:order_id>.pdf")
def worker_order(token: str, order_id: int):
    complaint = _documents_case(token)
    order = order_of(db(), complaint, order_id)
    if order is None:
        abort(404)
    settings = services().settings
    pdf = order_pdf(order_paper(complaint, order, settings.calendar.timezone), poster_font(settings))
    _audit_worker(complaint, "document", document="order", order_id=order.id)
    return download(pdf, "application/pdf", f"order-{complaint.ticket_no}-{order.id}.pdf")


def _documents_case(token: str) -> Complaint:
    complaint = documents_complaint(db(), services().settings, token)
    if complaint is None:
        abort(404)
    return complaint


def _audit_worker(complaint: Complaint, action: str, **detail) -> None:
    audit(db(), user_id=None, username="worker:web", action=action, ticket_no=complaint.ticket_no, detail=detail,
          address=request.remote_addr)
    db().commit()


def _status_page(complaint: Complaint, *, form: StatusForm | None = None, confirm: ConfirmForm | None = None,
                 notice: str | None = None, message: WorkerMessageForm | None = None, line: ClaimLine | None = None):
    """The case as its worker sees it; the 工资到手了吗 buttons only on the signed link's page, and on one worker's
    link only while their own answer is missing or a no; on the complainant's link of a closed case not graded yet,
    the three grades; the links to their documents signed afresh for
    DOCUMENTS_MAX_AGE_DAYS."""
    timezone = services().settings.calendar.timezone
    timeline = [(when_text(e.created_at, timezone), text) for e in reversed(complaint.events)
                if (text := event_text(e)) is not None]
    if line is not None:
        asking = line.confirmation in (Confirmation.ASKED, Confirmation.DISPUTED) and complaint.status != "closed"
    else:
        asking = complaint.status == "resolved"
    grading = confirm is not None and line is None and complaint.status == "closed" and complaint.satisfaction is None
    token = documents_token(services().settings, complaint)
    db().commit()  # the case's link reference, made on first use
    return _private(render_template("status.html", form=form or StatusForm(formdata=None), complaint=complaint,
                                    documents=token, orders=orders_of(db(), complaint),
                                    documents_days=DOCUMENTS_MAX_AGE_DAYS,
                                    notice=notice, status=status_text(complaint.status), timeline=timeline,
                                    confirm=confirm if asking else None, line=line,
                                    grading=confirm if grading else None,
                                    message=None if complaint.status == "closed" else
                                    message or WorkerMessageForm(services().settings.uploads, formdata=None)))


def _private(html: str):
    """A worker's own case: kept out of shared phones' history caches and out of proxies."""
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response
