"""The red and yellow lists (红黄榜): the office previews a month's ranking, publishes it (the yellow list's units
are told, 通报批评), and everyone reads the published lists as a page and as a PDF. The rules live in
intake.units.rankings; the PDF is laid out by `paper`."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for

from intake.foundation.models import utcnow
from intake.supervision.figures import rate_text
from intake.units import rankings as rk
from intake.units.tasks import TaskError
from paper import Document, Heading, Paragraph, Table, document_pdf

from ..posters import poster_font
from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view
from .dashboard import today

STANDING = {rk.RED: "红榜", rk.YELLOW: "黄榜", "": ""}
HEADER = ("名次", "单位", "收到投诉", *(label for label, _ in rk.INDICATORS.values()), "超期未办", "上访", "综合得分",
          "榜单")
WIDTHS = (3, 15, 4, 5, 5, 5, 5, 5, 5, 4, 3, 5, 4)  # the PDF's columns: the unit's name on one line


def _rows(entries: list[rk.Entry]) -> list[tuple]:
    """Each unit as one row of the list's table, the page's and the PDF's."""
    rows = []
    for place, e in enumerate(entries, 1):
        rows.append((str(place) if e.score is not None else "—", e.unit, str(e.received),
                     *(rate_text(e.rates.get(key)) for key in rk.INDICATORS), str(e.overdue), str(e.petitions),
                     "不排名" if e.score is None else f"{e.score:.1f}", STANDING[e.standing]))
    return rows


def _title(level: str, start) -> str:
    return f"{rk.period_label(start)}欠薪投诉办理红黄榜（{rk.LEVELS[level]}）"


@bp.get("/rankings")
@staff_view()
def rankings():
    """Published lists for everyone; the office also previews the month's list as it stands."""
    preview = None
    if scope().may("tasks"):
        level = request.args.get("level", "department")
        try:
            start, end = rk.period(request.args.get("month", ""), today())
            entries = rk.compute(db(), scope(), level, start, end, utcnow(), services().settings.calendar.timezone,
                                 services().settings.rankings)
        except TaskError as exc:
            flash(str(exc), "error")
        else:
            preview = {"level": level, "month": f"{start:%Y-%m}", "title": _title(level, start),
                       "rows": _rows(entries), "criticised": [rk.criticism(e, start) for e in entries
                                                              if e.standing == rk.YELLOW]}
    return render_template("console/rankings.html", preview=preview, published=rk.visible(db(), scope()),
                           header=HEADER, levels=rk.LEVELS, title=_title)


@bp.post("/rankings/publish")
@staff_view("tasks")
def ranking_publish():
    level = request.form.get("level", "")
    try:
        start, end = rk.period(request.form.get("month", ""), today())
        published = rk.publish(db(), scope(), level, start, end, utcnow(), services().settings.calendar.timezone,
                               services().settings.rankings, services().settings.routing.supervisor_kind)
    except TaskError as exc:
        db().rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.rankings", level=level, month=request.form.get("month", "")), 303)
    record("ranking_publish", ranking_id=published.id, level=level, month=f"{start:%Y-%m}")
    db().commit()
    flash("红黄榜已发布，黄榜单位已收到通报批评", "ok")
    return redirect(url_for("console.ranking", ranking_id=published.id), 303)


def _published(ranking_id: int):
    found = rk.list_for(db(), scope(), ranking_id)
    if found is None:
        abort(404)
    return found, rk.entries_of(found)


@bp.get("/rankings/<int:ranking_id>")
@staff_view()
def ranking(ranking_id: int):
    found, entries = _published(ranking_id)
    return render_template("console/ranking.html", ranking=found, title=_title(found.level, found.period_start),
                           header=HEADER, rows=_rows(entries),
                           criticised=[rk.criticism(e, found.period_start) for e in entries
                                       if e.standing == rk.YELLOW])


@bp.get("/rankings/<int:ranking_id>.pdf")
@staff_view()
def ranking_pdf(ranking_id: int):
    found, entries = _published(ranking_id)
    rows = _rows(entries)
    settings = services().settings
    blocks = []
    for heading, standing in (("一、红榜", rk.RED), ("二、黄榜", rk.YELLOW)):
        listed = [row for row, e in zip(rows, entries) if e.standing == standing]
        blocks += [Heading(heading), Table(HEADER, listed, WIDTHS) if listed else Paragraph("无")]
    criticised = [rk.criticism(e, found.period_start) for e in entries if e.standing == rk.YELLOW]
    blocks += [Heading("三、通报批评"), Paragraph("\n".join(criticised) or "无"),
               Heading("四、全部排名"), Table(HEADER, rows, WIDTHS),
               Paragraph(f"说明：按{rk.period_label(found.period_start)}收到的投诉计算；综合得分为各项指标的加权平均"
                         f"（超期率越低得分越高），收到投诉少于{settings.rankings.min_cases}件的单位不排名。")]
    document = Document(title=_title(found.level, found.period_start), blocks=blocks,
                        issuer=rk.issuer(db(), found, settings.routing.supervisor_kind),
                        reference=f"发布于 {found.published_at.astimezone(services().calendar.timezone):%Y-%m-%d}",
                        footer="清零欠薪处置平台")
    data = document_pdf(document, poster_font(settings))
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"ranking-{found.level}-{found.period_start:%Y%m}.pdf")
