"""The case page and its actions. Each action is one POST that carries the version the page showed: if the
case changed in between (someone else acted), nothing is done and the user is told to look again."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy.orm.exc import StaleDataError

from intake.case import cases
from intake.case.clocks import LABELS, ClockError
from intake.case.queue import clock_views, unanswered
from intake.case.routing import PRIORITY_TEXT, RoutingError, collective_view
from intake.conversation.transcript import transcript
from intake.enforcement.actions import NotOffered, offered, take
from intake.foundation.actions import CaseAction
from intake.foundation.models import utcnow
from intake.foundation.texts import EVENT_LABELS, amount_text, when_text
from intake.foundation.transitions import TransitionError
from intake.foundation.validation import mask_numbers, mask_phone
from intake.people.access import attachment_for, case_for, departments_in_reach
from intake.people.actors import actor_names
from intake.warnings.claims import roster_claim

from ..runtime import case_context, db, services
from .actions import FORMS, read_values
from .blueprint import bp, record, scope, staff_view
from .labels import CHANNEL_LABELS, INVESTMENT_TEXT, STATUS_LABELS

CONFLICT = "案件刚刚被其他人更新过，您的操作没有执行。请查看最新情况后再操作。"
REFUSED = (cases.CaseError, ClockError, RoutingError)


def _case(ticket_no: str):
    complaint = case_for(db(), scope(), ticket_no)
    if complaint is None:
        abort(404)
    return complaint


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
        holds=scope().holds(complaint))


@bp.get("/cases/<ticket_no>")
@staff_view()
def case(ticket_no: str):
    return _page(_case(ticket_no))


@bp.post("/cases/<ticket_no>/reveal")
@staff_view("reveal_phone")
def reveal(ticket_no: str):
    """The worker's full phone and ID numbers, shown once and written to the audit log."""
    complaint = _case(ticket_no)
    if not scope().holds(complaint):
        abort(403)  # a co-handler reads the case, never the worker's numbers
    shown = [name for name in ("phone", "id_number") if getattr(complaint.complainant, name)]
    record("reveal_phone", complaint.ticket_no, fields=shown)
    db().commit()
    return _page(complaint, revealed=True)


@bp.get("/cases/<ticket_no>/photos/<int:attachment_id>")
@staff_view()
def photo(ticket_no: str, attachment_id: int):
    found = attachment_for(db(), scope(), ticket_no, attachment_id)
    if found is None or not found.content:
        abort(404)
    response = make_response(found.content)
    response.headers["Content-Type"] = found.content_type if found.content_type in ("image/jpeg", "image/png") \
        else "application/octet-stream"
    response.headers["Content-Disposition"] = f'inline; filename="evidence-{found.id}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/cases/<ticket_no>/actions/<name>")
@staff_view()
def act(ticket_no: str, name: str):
    complaint = _case(ticket_no)
    try:
        action = CaseAction(name)
    except ValueError:
        abort(404)
    form = FORMS[action]
    if not scope().may_on(db(), complaint, action):
        abort(403)
    back = redirect(url_for("console.case", ticket_no=complaint.ticket_no), 303)
    if request.form.get("version") != str(complaint.version):
        flash(CONFLICT, "error")
        return back
    try:
        values = read_values(form, request.form)
        ctx = case_context()
        take(db(), complaint, ctx, scope(), action, **form.params(values, ctx))
        record("case_action", complaint.ticket_no, step=action.value, **values)
        db().commit()
    except (NotOffered, TransitionError):
        db().rollback()
        flash(f"案件当前状态为“{STATUS_LABELS[complaint.status]}”，不能{form.label}", "error")
    except REFUSED as exc:
        db().rollback()
        flash(str(exc), "error")
    except StaleDataError:
        db().rollback()
        flash(CONFLICT, "error")
    else:
        flash(form.done or f"已{form.label}", "ok")
    return back
