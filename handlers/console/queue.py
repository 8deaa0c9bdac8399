"""My queue (the cases in scope by the most urgent clock) and the console inbox of department notices."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from intake.case import petitions
from intake.case.cases import staff_of
from intake.case.queue import OPEN, Filters, clock_views, co_step_views, inbox_destinations, queue_page, unanswered
from intake.case.routing import PRIORITY_TEXT
from intake.delivery.outbox import opened
from intake.foundation.actions import CaseAction
from intake.foundation.models import Industry, Outbox, Status, utcnow
from intake.foundation.validation import mask_phone
from intake.people.access import case_for
from intake.registry.directory import county_refs

from ..runtime import db, services
from .actions import FORMS
from .blueprint import bp, scope, staff_view
from .case import perform
from .labels import STATUS_LABELS

INBOX_SHOWN = 20
# What the queue offers on several cases at once, each case still taken one by one through `perform`.
BULK = (CaseAction.ACKNOWLEDGE, CaseAction.TAKE, CaseAction.ASSIGN)
BULK_MAX = 100


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
    mine = scope().department_id
    co = co_step_views(db(), [c.id for c in page.complaints if c.department_id != mine], now, calendar,
                       services().settings.units, department_id=mine) if mine is not None else {}
    # A co-handler's own reply clock comes first on the cases it co-handles.
    rows = [(c, [v.clock for v in co.get(c.id, [])] + clock_views(c, now, calendar)) for c in page.complaints]
    notices, unread = _inbox()
    next_args = {**request.args.to_dict(), "after": page.next_cursor} if page.next_cursor else None
    return render_template("console/queue.html", rows=rows, filters=filters, next_args=next_args,
                           unanswered=unanswered(db(), [c.id for c in page.complaints]),
                           petitioned=petitions.counts(db(), [c.id for c in page.complaints]),
                           notices=notices, unread=unread, seen=current_user.account.inbox_seen_id,
                           counties=county_refs(db()), statuses=STATUS_LABELS, priorities=PRIORITY_TEXT,
                           industries=[i.value for i in Industry], mask_phone=mask_phone, opened=opened,
                           bulk=[(a, FORMS[a].label) for a in BULK if scope().may(a)],
                           officers=staff_of(db(), scope().department_id),
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


@bp.post("/bulk")
@staff_view()
def bulk():
    """签收 or 指定承办人 on the cases ticked in the queue: each goes through the same rule, version check and
    audit entry as on its own page; staff are told which were done and, for each of the others, why not."""
    name = request.form.get("action", "")
    action = next((a for a in BULK if a.value == name and scope().may(a)), None)
    picked = request.form.getlist("case")
    if action is None or not picked or len(picked) > BULK_MAX:
        flash(f"请勾选要处理的案件（一次最多 {BULK_MAX} 件）并选择操作" if action else "请选择要执行的操作", "error")
        return redirect(url_for("console.index"), 303)
    done, refused = [], []
    for ticket_no, _, version in dict.fromkeys(p.partition("@") for p in picked):  # "<ticket>@<version shown>"
        complaint = case_for(db(), scope(), ticket_no)
        why = "找不到这个案件（不存在或不在权限范围内）" if complaint is None else \
            perform(complaint, action, request.form, version)
        if why:
            refused.append(f"{ticket_no}：{why}")
        else:
            done.append(ticket_no)
    db().commit()
    if done:
        flash(f"已{FORMS[action].label} {len(done)} 件：{'、'.join(done)}", "ok")
    for line in refused:
        flash(f"未能{FORMS[action].label} {line}", "error")
    return redirect(url_for("console.index"), 303)
