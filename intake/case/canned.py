"""常用回复: each department keeps a short list of messages its staff send workers again and again ("已签收，正在核实"
...). Picking one on a case fills the message with the case's own facts; staff may still edit it before sending,
and it goes out through the one message action (intake.case.cases.message_worker), so nothing here sends."""
from __future__ import annotations

import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.foundation.models import CannedReply, Complaint, Department

from .cases import MESSAGE_MAX, CaseError

TITLE_MAX = 20
PER_DEPARTMENT = 30  # a list a clerk reads at a glance; more is a manual, not a pick list


def _deadline(complaint: Complaint, timezone: str) -> str:
    """The case's nearest running deadline as a worker reads a date; a case without one keeps a gap to fill."""
    if complaint.next_due_at is None:
        return "【请填写期限】"
    local = complaint.next_due_at.astimezone(ZoneInfo(timezone))
    return f"{local.year}年{local.month}月{local.day}日"


# The placeholders a reply may carry, each filled from the case.
PLACEHOLDERS: dict[str, Callable[[Complaint, str], str]] = {
    "编号": lambda c, _tz: c.ticket_no,
    "期限": _deadline,
    "部门": lambda c, _tz: c.department.name if c.department is not None else "承办部门",
}
_PLACEHOLDER = re.compile(r"\{([^{}]{1,10})\}")


def replies_of(session: Session, department_id: int | None) -> list[CannedReply]:
    if department_id is None:
        return []
    return list(session.scalars(select(CannedReply).where(CannedReply.department_id == department_id)
                                .order_by(CannedReply.title, CannedReply.id)))


def add_reply(session: Session, department: Department, *, title: str, text: str, actor: str) -> CannedReply:
    """A new reply of the department: a short title, a text no longer than a message, known placeholders only."""
    title, text = (title or "").strip(), (text or "").strip()
    if not title or not text:
        raise CaseError("请填写标题和回复内容")
    if len(title) > TITLE_MAX:
        raise CaseError(f"标题最多 {TITLE_MAX} 个字")
    if len(text) > MESSAGE_MAX:
        raise CaseError(f"回复内容最多 {MESSAGE_MAX} 个字")
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        allowed = "、".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise CaseError(f"不认识的占位符：{'、'.join(unknown)}。可用的有：{allowed}")
    count = session.scalar(select(func.count()).select_from(CannedReply)
                           .where(CannedReply.department_id == department.id))
    if count >= PER_DEPARTMENT:
        raise CaseError(f"每个部门最多 {PER_DEPARTMENT} 条常用回复，请先删除不用的")
    reply = CannedReply(department_id=department.id, title=title, text=text, created_by=actor)
    session.add(reply)
    session.flush()
    return reply


def remove_reply(session: Session, department_id: int, reply_id: int) -> CannedReply | None:
    """Delete one of the department's replies; another department's (or a missing) one is None, nothing done."""
    reply = session.get(CannedReply, reply_id)
    if reply is None or reply.department_id != department_id:
        return None
    session.delete(reply)
    session.flush()
    return reply


def filled(reply: CannedReply, complaint: Complaint, timezone: str) -> str:
    """The reply's text for this case: each known placeholder replaced by the case's fact."""
    return _PLACEHOLDER.sub(lambda m: PLACEHOLDERS[m.group(1)](complaint, timezone) if m.group(1) in PLACEHOLDERS
                            else m.group(0), reply.text)


def reply_for(session: Session, complaint: Complaint, reply_id: int, timezone: str) -> str | None:
    """A reply of the department holding the case, filled for it; None for any other id."""
    reply = session.get(CannedReply, reply_id)
    if reply is None or reply.department_id != complaint.department_id:
        return None
    return filled(reply, complaint, timezone)
