"""The case page and its actions. Each action is one POST that carries the version the page showed: if the
case changed in between (someone else acted), nothing is done and the user is told to look again."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from intake.case import canned, cases, documents, petitions
from intake.case.clocks import LABELS, ClockError
from intake.case.queue import clock_views, co_step_views, unanswered
from intake.case.routing import PRIORITY_TEXT, RoutingError, collective_view
from intake.conversation.transcript import transcript
from intake.enforcement.actions import NotOffered, offered, take
from intake.enforcement.clearing import notices_of
from intake.enforcement.crosscheck import case_hits
from intake.enforcement.dossier import EXTENSIONS, dossier, order_of, order_paper
from intake.enforcement.evidence import original_of
from intake.enforcement.orders import orders_of
from intake.enforcement.plans import serious, steps_of
from intake.enforcement.police import OUTCOMES, transfers_of
from intake.foundation.actions import CaseAction
from intake.foundation.encryption import DataKeyError
from intake.foundation.models import utcnow
from intake.foundation.texts import (
    ANSWERED_VIA_TEXT,
    CONFIRMATION_TEXT,
    EVENT_LABELS,
    SATISFACTION_TEXT,
    amount_text,
    when_text,
)
from intake.foundation.transitions import TransitionError
from intake.foundation.validation import ROW_ID_MAX, mask_numbers, mask_phone
from intake.people.access import attachment_for, case_for, departments_in_reach
from intake.people.actors import actor_names
from intake.reading.documents import MAX_BYTES as DOCUMENT_MAX_BYTES
from intake.reading.documents import check_document
from intake.reading.photos import EvidenceError
from intake.warnings.claims import roster_claim

from ..documents import dossier_zip, download, order_pdf
from ..posters import poster_font
from ..runtime import case_context, db, services
from .actions import FORMS, read_values
from .blueprint import bp, record, scope, staff_view
from .dashboard import today
from .labels import CHANNEL_LABELS, INVESTMENT_TEXT, STATUS_LABELS

CONFLICT = "案件刚刚被其他人更新过，您的操作没有执行。请查看最新情况后再操作。"
REFUSED = (cases.CaseError, ClockError, RoutingError)


def scoped_case(ticket_no: str):
    """The case if the user's scope holds it; 404 otherwise, as if it did not exist."""
    complaint = case_for(db(), scope(), ticket_no)
    if complaint is None:
        abort(404)
    return complaint


def _picked_reply(complaint, timezone: str) -> str:
    """The canned reply chosen with ?reply=<id>, filled for this case, to start the message from."""
    chosen = request.args.get("reply", "")
    if not chosen.isdigit() or int(chosen) > ROW_ID_MAX:
        return ""
    return canned.reply_for(db(), complaint, int(chosen), timezone) or ""


def _page(complaint, *, revealed: bool = False):
    now = utcnow()
    timezone = services().settings.calendar.timezone
    actions = offered(db(), complaint, scope())
    roster = roster_claim(db(), complaint, now.astimezone(services().calendar.timezone).date().replace(day=1))
    return render_template(
        "console/case.html", c=complaint, clocks=clock_views(complaint, now, services().calendar),
        actions=[(action, FORMS[action]) for action in actions], roster=roster,
        take_roster=roster is not None and roster.owed > 0 and CaseAction.CLAIM_LINE in actions
        and all(line.worker_name != roster.name for line in complaint.claim_lines),
        transcript=transcript(db(), complaint), unanswered=unanswered(db(), [complaint.id]).get(complaint.id, 0),
        departments=departments_in_reach(db(), scope()) if scope().may("transfer") else [],
        phone=complaint.complainant.phone if revealed else mask_phone(complaint.complainant.phone),
        id_number=complaint.complainant.id_number if revealed else complaint.complainant.id_number_masked,
        free_text=complaint.free_text if revealed else mask_numbers(complaint.free_text),
        revealed=revealed, when=lambda t: when_text(t, timezone), amount_text=amount_text,
        statuses=STATUS_LABELS, channels=CHANNEL_LABELS, events=EVENT_LABELS, investments=INVESTMENT_TEXT,
        priorities=PRIORITY_TEXT, may=scope().may,
        actors=actor_names(db(), (e.actor for e in complaint.events)),
        pending=cases.pending_approvals(db(), complaint), clock_labels=LABELS,
        colleagues=cases.colleagues(db(), complaint),
        collective=collective_view(db(), scope(), complaint),
        holds=scope().holds(complaint), canned=canned.replies_of(db(), complaint.department_id),
        reply_text=_picked_reply(complaint, timezone), photos=documents.worker_photos(complaint),
        documents=documents.staff_documents(complaint), document_kinds=documents.KINDS,
        may_add_documents=scope().may_on(db(), complaint, "documents"),
        document_mb=DOCUMENT_MAX_BYTES // (1024 * 1024), mask_phone=mask_phone,
        confirmations=CONFIRMATION_TEXT, answered_via=ANSWERED_VIA_TEXT, grades=SATISFACTION_TEXT,
        orders=orders_of(db(), complaint),
        transfers=transfers_of(db(), complaint), outcomes=OUTCOMES, listed=case_hits(db(), complaint, today()),
        plan=steps_of(db(), complaint), serious=serious(complaint), now=now,
        clearing=notices_of(db(), complaint),
        petitioned=petitions.counts(db(), [complaint.id]).get(complaint.id, 0),
        co_steps=co_step_views(db(), [complaint.id], now, services().calendar, services().settings.units).get(
            complaint.id, []))



@bp.get("/cases/<ticket_no>")
@staff_view()
def case(ticket_no: str):
    return _page(scoped_case(ticket_no))


@bp.post("/cases/<ticket_no>/reveal")
@staff_view("reveal_phone")
def reveal(ticket_no: str):
    """The worker's full phone and ID numbers, shown once and written to the audit log."""
    complaint = scoped_case(ticket_no)
    if not scope().holds(complaint):
        abort(403)  # a co-handler reads the case, never the worker's numbers
    shown = [name for name in ("phone", "id_number") if getattr(complaint.complainant, name)]
    record("reveal_phone", complaint.ticket_no, fields=shown)
    db().commit()
    return _page(complaint, revealed=True)


# How each stored kind of file is served: pictures shown in the page, PDFs downloaded (a sandboxed page cannot
# show them); anything else is only ever bytes to save.
SERVED = {"image/jpeg": "inline", "image/png": "inline", "application/pdf": "attachment"}


@bp.get("/cases/<ticket_no>/photos/<int:attachment_id>")
@staff_view()
def photo(ticket_no: str, attachment_id: int):
    """A worker's photo or a staff document of a case in scope."""
    found = attachment_for(db(), scope(), ticket_no, attachment_id)
    if found is None or not found.content:
        abort(404)
    response = make_response(found.content)
    served = found.content_type in SERVED
    response.headers["Content-Type"] = found.content_type if served else "application/octet-stream"
    suffix = {"application/pdf": ".pdf"}.get(found.content_type, "")
    response.headers["Content-Disposition"] = \
        f'{SERVED.get(found.content_type, "attachment")}; filename="evidence-{found.id}{suffix}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/cases/<ticket_no>/photos/<int:attachment_id>/original")
@staff_view()
def original(ticket_no: str, attachment_id: int):
    """A file as it was received (a photo with its metadata: where the phone was), for the staff who hold the case
    (like the dossier: a co-handler reads the case, never takes the worker's file); always downloaded, never shown
    in a page, and audited."""
    found = attachment_for(db(), scope(), ticket_no, attachment_id)
    if found is not None and not scope().holds(found.complaint):
        abort(403)
    try:
        content = original_of(found) if found is not None else None
    except DataKeyError:
        flash("这个文件的原件无法解密（可能已被改动），请运行 qingling evidence verify 核验", "error")
        return redirect(url_for("console.case", ticket_no=ticket_no), 303)
    if content is None:
        abort(404)
    record("original_download", ticket_no, attachment_id=found.id, sha256=found.original_sha256)
    db().commit()
    extension = EXTENSIONS.get(found.content_type, "bin")
    response = download(content, found.content_type if found.content_type in SERVED else "application/octet-stream",
                        f"original-{found.id}.{extension}")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def perform(complaint, action: CaseAction, fields, version: str) -> str | None:
    """One action on one case as staff take it, from the case page or the queue's bulk form: the role and the
    version the page showed are checked, the core's rule runs, the audit log gets its entry. Returns None when
    it was done, else what stopped it in staff's words; a refused action leaves nothing behind (its savepoint
    is rolled back), so the other cases of a bulk action still go through. The caller commits."""
    form = FORMS[action]
    if not scope().may_on(db(), complaint, action):
        return f"您没有权限{form.label}"
    if version != str(complaint.version):
        return CONFLICT
    savepoint = db().begin_nested()
    try:
        values = read_values(form, fields)
        ctx = case_context()
        take(db(), complaint, ctx, scope(), action, **form.params(values, ctx))
        record("case_action", complaint.ticket_no, step=action.value, **values)
        savepoint.commit()
    except (NotOffered, TransitionError):
        savepoint.rollback()
        return f"案件当前状态为“{STATUS_LABELS[complaint.status]}”，不能{form.label}"
    except REFUSED as exc:
        savepoint.rollback()
        return str(exc)
    except StaleDataError:
        savepoint.rollback()
        return CONFLICT
    return None


@bp.post("/cases/<ticket_no>/documents")
@staff_view()
def add_document(ticket_no: str):
    """A staff document (PDF or image) onto the case, content-checked and sealed into its evidence chain."""
    complaint = scoped_case(ticket_no)
    if not scope().may_on(db(), complaint, "documents"):
        abort(403)
    upload = request.files.get("document")
    try:
        if upload is None or not upload.filename:
            raise cases.CaseError("请选择要上传的文件")
        checked = check_document(upload.filename, upload.read(DOCUMENT_MAX_BYTES + 1))
        added = documents.add_document(db(), complaint, checked, kind=request.form.get("kind", ""),
                                       actor=scope().actor, now=utcnow())
    except (EvidenceError, cases.CaseError) as exc:
        db().rollback()
        flash(str(exc), "error")
    else:
        record("document_added", complaint.ticket_no, attachment_id=added.id, filename=added.filename,
               label=added.label, sha256=added.sha256)
        db().commit()
        flash(f"已上传{added.label}：{added.filename}", "ok")
    return redirect(url_for("console.case", ticket_no=complaint.ticket_no) + "#documents", 303)


@bp.get("/cases/<ticket_no>/orders/<int:order_id>.pdf")
@staff_view()
def order_document(ticket_no: str, order_id: int):
    """The order to pay as served, to print and sign; every download is audited."""
    complaint = scoped_case(ticket_no)
    order = order_of(db(), complaint, order_id)
    if order is None:
        abort(404)
    settings = services().settings
    pdf = order_pdf(order_paper(complaint, order, settings.calendar.timezone), poster_font(settings))
    record("document", complaint.ticket_no, document="order", order_id=order.id)
    db().commit()
    return download(pdf, "application/pdf", f"order-{complaint.ticket_no}-{order.id}.pdf")


@bp.get("/cases/<ticket_no>/dossier.zip")
@staff_view()
def dossier_export(ticket_no: str):
    """The whole case for arbitration, court or police, for the staff who hold it (a co-handler reads the case,
    never exports the worker's file); audited."""
    complaint = scoped_case(ticket_no)
    if not scope().holds(complaint):
        abort(403)
    settings = services().settings
    body = dossier_zip(dossier(db(), complaint, settings.calendar.timezone), poster_font(settings), utcnow())
    record("dossier_export", complaint.ticket_no, copy="staff")
    db().commit()
    return download(body, "application/zip", f"dossier-{complaint.ticket_no}.zip")


@bp.post("/cases/<ticket_no>/actions/<name>")
@staff_view()
def act(ticket_no: str, name: str):
    complaint = scoped_case(ticket_no)
    try:
        action = CaseAction(name)
    except ValueError:
        abort(404)
    if not scope().may_on(db(), complaint, action):
        abort(403)
    refused = perform(complaint, action, request.form, request.form.get("version", ""))
    if refused:
        db().rollback()
        flash(refused, "error")
    else:
        db().commit()
        flash(FORMS[action].done or f"已{FORMS[action].label}", "ok")
    return redirect(url_for("console.case", ticket_no=complaint.ticket_no), 303)
