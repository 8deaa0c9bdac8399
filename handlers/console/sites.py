"""The sites in scope with their complaint links, QR codes and posters; administrators import project lists."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from intake.case import petitions
from intake.enforcement.crosscheck import listed_parties
from intake.foundation.models import Site
from intake.registry.sites import complaint_url, import_sites

from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view
from .dashboard import today
from .labels import INVESTMENT_TEXT

PAGE_SIZE = 100
IMPORT_MAX_BYTES = 20 * 1024 * 1024


@bp.get("/sites")
@staff_view()
def sites():
    query = select(Site).where(scope().sites()).options(selectinload(Site.jurisdiction))
    q = (request.args.get("q") or "").strip()[:100]
    if q:
        like = f"%{q}%"
        query = query.where(or_(Site.name.like(like), Site.code.like(like), Site.general_contractor.like(like)))
    after = request.args.get("after", "")
    if after:
        query = query.where(Site.code > after)
    rows = db().scalars(query.order_by(Site.code).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    settings = services().settings
    listed: dict[str, list[str]] = {}
    for party in listed_parties(db(), [s.code for s in rows], today()):
        listed.setdefault(party.site_code, []).append(str(party.hit))
    return render_template("console/sites.html", sites=[(s, complaint_url(settings, s)) for s in rows], q=q,
                           listed=listed, petitioned=petitions.per_site(db(), [s.id for s in rows]),
                           next_after=rows[-1].code if more else None, investments=INVESTMENT_TEXT,
                           may_import=scope().may("sites_import"))


@bp.post("/sites/import")
@staff_view("sites_import")
def sites_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件", "error")
        return redirect(url_for("console.sites"), 303)
    content = upload.read(IMPORT_MAX_BYTES + 1)
    if len(content) > IMPORT_MAX_BYTES:
        flash("文件太大（最多 20MB）", "error")
        return redirect(url_for("console.sites"), 303)
    report = import_sites(db(), upload.filename, content, partial=request.form.get("partial") == "1")
    if report.failed:
        db().rollback()
        problems = [report.file_error] if report.file_error else [str(e) for e in report.errors[:20]]
        flash("未导入任何项目：" + "；".join(problems), "error")
    else:
        listed = listed_parties(db(), report.codes, today())
        record("sites_import", filename=upload.filename[:200], created=report.created, updated=report.updated,
               listed=len(listed))
        db().commit()
        flash(f"已导入：新增 {report.created} 个，更新 {report.updated} 个，无变化 {report.unchanged} 个，"
              f"跳过 {report.skipped} 个", "ok")
        for hit in listed[:20]:
            flash(f"失信提醒：{hit}", "error")
    return redirect(url_for("console.sites"), 303)
