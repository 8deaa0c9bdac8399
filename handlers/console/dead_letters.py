"""Messages that could not be delivered (dead letters), for the city administrator and the dispatch desk: who
was not told what and why, and a button that queues one again once its channel works."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from intake.delivery.outbox import dead_letters as dead_rows
from intake.delivery.outbox import retry_dead, shown
from intake.foundation.models import utcnow
from intake.foundation.texts import when_text

from ..runtime import db, services
from .blueprint import bp, record, staff_view

SHOWN = 200


@bp.get("/dead-letters")
@staff_view("dead_letters")
def dead_letters():
    timezone = services().settings.calendar.timezone
    return render_template("console/dead_letters.html", rows=dead_rows(db(), SHOWN), shown=shown,
                           when=lambda t: when_text(t, timezone))


@bp.post("/dead-letters/<int:outbox_id>/retry")
@staff_view("dead_letters")
def retry_dead_letter(outbox_id: int):
    row = retry_dead(db(), outbox_id, utcnow())
    if row is None:
        abort(404)
    record("dead_letter_retry", row.payload.get("ticket_no"), outbox_id=row.id, destination=shown(row.destination))
    db().commit()
    flash(f"已重新排队发送：{shown(row.destination)}", "ok")
    return redirect(url_for("console.dead_letters"), 303)
