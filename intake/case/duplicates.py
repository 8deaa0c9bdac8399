"""重复投诉: the same worker complaining twice about the same site (a web form and then a call, two messages a week
apart) is one matter. Staff mark the later complaint a duplicate of the one that carries on (the survivor): the
duplicate moves to the final status `duplicate` (neither open nor handled in the figures, no action but the undo
offered), its clocks stop, so it neither warns nor goes overdue, and its worker is told the ticket to follow. The
mark is undone by a head or supervisor: the status it was marked in comes back and the clocks resume where they
stopped. Both are transitions on the timeline, and the console's audit log records who did them."""
from __future__ import annotations

from sqlalchemy.orm import Session

from intake.foundation.models import Complaint, Event, EventKind, Status
from intake.foundation.transitions import record, transition

from .cases import CaseContext, CaseError
from .clocks import pause_clocks, resume_clocks
from .notices import tell_worker
from .timers import PENDING, clock_name, is_sticky, open_timers


def _same_worker(one: Complaint, other: Complaint) -> bool:
    if one.complainant_id == other.complainant_id:
        return True
    a, b = one.complainant, other.complainant
    if a.phone_hash and a.phone_hash == b.phone_hash or a.id_number_hash and a.id_number_hash == b.id_number_hash:
        return True
    return bool(one.channel_user_id) and (one.channel, one.channel_user_id) == (other.channel, other.channel_user_id)


def _same_site(one: Complaint, other: Complaint) -> bool:
    """The same registered site, or, for complaints not matched to one, the same project named in the same county."""
    if one.site_id is not None or other.site_id is not None:
        return one.site_id == other.site_id
    name = (one.project_name or "").strip()
    return bool(name) and name == (other.project_name or "").strip() \
        and one.jurisdiction_code == other.jurisdiction_code


def mark_duplicate(session: Session, complaint: Complaint, survivor: Complaint, ctx: CaseContext, *, actor: str,
                   reason: str) -> Event:
    reason = (reason or "").strip()
    if not reason:
        raise CaseError("请填写说明")
    if complaint.duplicate_of_id is not None:
        raise CaseError("本案已标为重复投诉")
    if survivor.id == complaint.id:
        raise CaseError("不能标为自己的重复投诉")
    if survivor.duplicate_of_id is not None:
        raise CaseError(f"{survivor.ticket_no}本身是重复投诉，请填写它保留的投诉编号")
    if survivor.status == Status.CLOSED.value:
        raise CaseError(f"{survivor.ticket_no}已结案，不能并入；如工人仍未拿到工资，请重新办理该案")
    if not _same_worker(complaint, survivor):
        raise CaseError(f"{survivor.ticket_no}不是同一位工人的投诉")
    if not _same_site(complaint, survivor):
        raise CaseError(f"{survivor.ticket_no}不是同一个工地的投诉")
    complaint.duplicate_of_id = survivor.id
    paused = pause_clocks(session, complaint, ctx.now, actor=actor, duplicate=True,
                          reason=f"重复投诉，由{survivor.ticket_no}继续办理")
    record(session, survivor, EventKind.DUPLICATE_JOINED, actor=actor, note=f"{complaint.ticket_no}：{reason}",
           data={"duplicate_ticket": complaint.ticket_no})
    tell_worker(session, ctx.settings, complaint, "duplicate", ctx.now, survivor=survivor.ticket_no)
    return transition(session, complaint, Status.DUPLICATE, actor=actor, kind=EventKind.DUPLICATE_MARKED,
                      note=f"与{survivor.ticket_no}重复：{reason}", data={"survivor": survivor.ticket_no, "paused": paused})


def unmark_duplicate(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, reason: str) -> Event:
    reason = (reason or "").strip()
    if not reason:
        raise CaseError("请填写撤销理由")
    survivor = complaint.duplicate_of
    if survivor is None:
        raise CaseError("本案没有标为重复投诉")
    complaint.duplicate_of_id = None
    marked = next(e for e in reversed(complaint.events) if e.kind == EventKind.DUPLICATE_MARKED)
    event = transition(session, complaint, marked.from_status, actor=actor, kind=EventKind.DUPLICATE_UNMARKED,
                       note=f"不再是{survivor.ticket_no}的重复投诉：{reason}", data={"survivor": survivor.ticket_no})
    if marked.data.get("paused"):  # clocks already waiting for the worker's material before the mark keep waiting
        resume_clocks(session, complaint, ctx.now, ctx.calendar, ctx.settings.clocks, actor=actor, duplicate=True)
    for timer in open_timers(session, complaint.id):  # 挂牌督办 and the other standing deadlines carry on
        if timer.state == PENDING and is_sticky(clock_name(timer.clock)):
            timer.version = complaint.version
    tell_worker(session, ctx.settings, complaint, "separated", ctx.now)
    return event
