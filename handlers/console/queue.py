"""My queue (the cases in scope by the most urgent clock) and the console inbox of department notices."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from intake.case.queue import OPEN, Filters, clock_views, inbox_destinations, queue_page, unanswered
from intake.case.routing import PRIORITY_TEXT
from intake.foundation.models import Industry, Outbox, Status, utcnow
from intake.foundation.validation import mask_phone
from intake.registry.directory import county_refs

from ..runtime import db, services
from .blueprint import bp, scope, staff_view
from .labels import STATUS_LABELS

INBOX_SHOWN = 20


def _filters() -> Filters:
    args = request.args
    status = args.get("status", OPEN)
    if status not in {OPEN, "all", *(s.value for s in Status)}:
        status = OPEN
    priority = args.get("priority", "")
    industry = args.get("industry", "")
    return Filters(status=status, priority=priority if priority in PRIORITY_TEXT else "",
                   county=args.get("county", "")[:12], industry=industry if industry in Industry._value2member_map_
                   else "", overdue=args.get("overdue") == "1", collective=args.get("collective") == "1",
                   supervised=args.get("supervised") == "1",
                   officer=args.get("officer") if args.get("officer") in ("mine", "none") else "")


def _inbox():
    destinations = inbox_destinations(db(), scope(), services().settings.clocks.county_supervisor_kind)
    if not destinations:
        return [], 0
    base = select(Outbox).where(Outbox.destination.in_(destinations))
    seen = current_user.account.inbox_seen_id
    unread = db().scalar(select(func.count()).select_from(base.where(Outbox.id > seen).subquery()))
    notices = db().scalars(base.order_by(Outbox.id.desc()).limit(INBOX_SHOWN)).all()
    return notices, unread


@bp.get("/")
@staff_view()
def index():
    now = utcnow()
    filters = _filters()
    page = queue_page(db(), scope(), filters, now, cursor=request.args.get("after"))
    calendar = services().calendar
    rows = [(c, clock_views(c, now, calendar)) for c in page.complaints]
    notices, unread = _inbox()
    next_args = {**request.args.to_dict(), "after": page.next_cursor} if page.next_cursor else None
    return render_template("console/queue.html", rows=rows, filters=filters, next_args=next_args,
                           unanswered=unanswered(db(), [c.id for c in page.complaints]),
                           notices=notices, unread=unread, seen=current_user.account.inbox_seen_id,
                           counties=county_refs(db()), statuses=STATUS_LABELS, priorities=PRIORITY_TEXT,
                           industries=[i.value for i in Industry], mask_phone=mask_phone,
                           first_args={k: v for k, v in request.args.items() if k != "after"}
                           if "after" in request.args else None)


@bp.post("/inbox/read")
@staff_view()
def inbox_read():
    destinations = inbox_destinations(db(), scope(), services().settings.clocks.county_supervisor_kind)
    newest = db().scalar(select(func.max(Outbox.id)).where(Outbox.destination.in_(destinations))) if destinations \
        else None
    if newest is not None and newest > current_user.account.inbox_seen_id:
        current_user.account.inbox_seen_id = newest
        db().commit()
    return redirect(url_for("console.index"), 303)
