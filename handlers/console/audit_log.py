"""The audit log, for city administrators: newest first, filtered by user, ticket or action."""
from __future__ import annotations

from flask import render_template, request

from intake.foundation.texts import when_text
from intake.people.audit import ACTION_LABELS, entries

from ..runtime import db, services
from .blueprint import bp, staff_view

PAGE_SIZE = 100


@bp.get("/audit")
@staff_view("audit")
def audit():
    args = request.args
    before = args.get("before", "")
    rows = db().scalars(entries(username=args.get("user", "").strip()[:80] or None,
                                ticket_no=args.get("ticket", "").strip()[:20] or None,
                                action=args.get("action") if args.get("action") in ACTION_LABELS else None,
                                before_id=int(before) if before.isdigit() else None,
                                limit=PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    timezone = services().settings.calendar.timezone
    return render_template("console/audit.html", rows=rows, labels=ACTION_LABELS, args=args,
                           when=lambda t: when_text(t, timezone), next_before=rows[-1].id if more else None)
