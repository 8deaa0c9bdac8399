"""Staff documents on a case: an interview record (询问笔录), an order served, a stamped scan, a bank slip, the
worker's signed oral-complaint record. Checked like photos before they get here (intake.reading.documents), kept
as attachments that name who added them, and sealed into the case's hash chain like every stored file, so
`qingling evidence` proves them unchanged."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.foundation.models import Attachment, Complaint
from intake.foundation.transitions import record_evidence
from intake.reading.photos import Photo

from .cases import CaseError

KINDS = {
    "interview": "询问笔录",
    "served": "送达的文书",
    "oral": "口头投诉记录（签字）",
    "scan": "盖章扫描件",
    "bank": "银行回单",
    "other": "其他材料",
}
PER_CASE = 50


def add_document(session: Session, complaint: Complaint, document: Photo, *, kind: str, actor: str,
                 now: datetime) -> Attachment:
    """The checked file on the case as a staff document (and its original, received `now`), their SHA-256 on the
    timeline."""
    if kind not in KINDS:
        raise CaseError("请选择材料类别")
    count = session.scalar(select(func.count()).select_from(Attachment)
                           .where(Attachment.complaint_id == complaint.id, Attachment.added_by.is_not(None)))
    if count >= PER_CASE:
        raise CaseError(f"每个案件最多 {PER_CASE} 份工作人员上传的材料")
    attachment = Attachment(complaint_id=complaint.id, **document.stored(), received_at=now, added_by=actor,
                            label=KINDS[kind])
    session.add(attachment)
    session.flush()
    record_evidence(session, complaint, attachment, actor=actor)
    return attachment


def staff_documents(complaint: Complaint) -> list[Attachment]:
    return [a for a in complaint.attachments if a.added_by is not None]


def worker_photos(complaint: Complaint) -> list[Attachment]:
    return [a for a in complaint.attachments if a.added_by is None]
