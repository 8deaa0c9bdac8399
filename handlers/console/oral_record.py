"""口头投诉记录: a complaint taken by phone or at the counter, printed as a one-page record for the worker to check
and sign (the inspection rules ask for a signed record of an oral complaint). The signed scan goes back on the case
as a staff document ("口头投诉记录（签字）"). Laid out by the shared paper/ module; it prints the worker's full
numbers, so it is for the case's holders only and written to the audit log like revealing them."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, url_for

from intake.foundation.models import Channel, Complaint
from intake.foundation.texts import when_text
from intake.people.actors import actor_names
from paper import Document, Fields, Heading, Paragraph, Signatures, Table, document_pdf

from ..posters import FontMissing, poster_font
from ..runtime import db, services
from .blueprint import bp, record, scope, staff_view
from .case import scoped_case
from .labels import CHANNEL_LABELS

ORAL = (Channel.PHONE.value, Channel.WALK_IN.value)
STATEMENT = "以上记录已向本人宣读（或由本人阅读），与本人所述一致。"


def _money(yuan: int | None) -> str:
    return f"{yuan:,} 元" if yuan else "不明"


def oral_record(complaint: Complaint, recorder: str, timezone: str) -> Document:
    """The record's facts as the worker gave them, then the lines to sign."""
    worker = complaint.complainant
    site = complaint.site.name if complaint.site else complaint.project_name
    county = complaint.site.jurisdiction.name if complaint.site else \
        complaint.jurisdiction.name if complaint.jurisdiction else ""
    blocks = [
        Fields([("受理编号", complaint.ticket_no), ("投诉方式", CHANNEL_LABELS[complaint.channel]),
                ("记录时间", when_text(complaint.created_at, timezone)), ("记录人", recorder)]),
        Heading("一、投诉人"),
        Fields([("姓名", worker.name or ""), ("身份证号", worker.id_number or ""), ("联系电话", worker.phone or ""),
                ("匿名反映", "是（不向用人单位透露身份）" if complaint.anonymous else "否")]),
        Heading("二、欠薪情况"),
        Fields([("工地（项目）", site or ""), ("所在区县", county), ("欠薪单位", complaint.claim.get("employer") or ""),
                ("被欠薪人数", f"{complaint.workers or 1} 人"), ("欠薪金额", _money(complaint.amount)),
                ("欠薪月数", f"{complaint.months} 个月" if complaint.months else "不明")]),
        Heading("三、反映的情况"),
        Paragraph(complaint.free_text or "（未记录）"),
    ]
    if complaint.claim_lines:
        blocks.append(Table(["工人姓名", "欠薪金额（元）"],
                            [[ln.worker_name or "", f"{ln.amount_claimed:,}" if ln.amount_claimed else ""]
                             for ln in complaint.claim_lines], widths=[2, 1]))
    blocks += [Paragraph(STATEMENT), Signatures(["投诉人（签字或按手印）", "记录人", "日期"])]
    issuer = complaint.department.name if complaint.department else ""
    return Document(title="口头投诉记录", blocks=blocks, issuer=issuer, reference=f"受理编号 {complaint.ticket_no}",
                    footer="清零欠薪处置平台", subject=f"口头投诉记录 {complaint.ticket_no}")


@bp.get("/cases/<ticket_no>/oral-record.pdf")
@staff_view("reveal_phone")
def oral_record_pdf(ticket_no: str):
    complaint = scoped_case(ticket_no)
    if complaint.channel not in ORAL:
        abort(404)
    if not scope().holds(complaint):
        abort(403)  # it carries the worker's full numbers: a co-handler never sees them
    settings = services().settings
    try:
        font = poster_font(settings)
    except FontMissing:
        flash("服务器缺少中文字体，无法生成记录，请联系管理员（qingling doctor 会提示）", "error")
        return redirect(url_for("console.case", ticket_no=complaint.ticket_no), 303)
    entered_by = complaint.claim.get("entered_by")
    recorder = actor_names(db(), [f"staff:{entered_by}"])[f"staff:{entered_by}"] if entered_by else ""
    data = document_pdf(oral_record(complaint, recorder, settings.calendar.timezone), font)
    record("oral_record", complaint.ticket_no, fields=["phone", "id_number"])
    db().commit()
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="oral-record-{complaint.ticket_no}.pdf"'
    return response
