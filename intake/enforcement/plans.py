"""一案一策: a serious case (collective, on a government or SOE project, supervised, or urgent) gets a plan of steps,
each with who answers for it and a date. Each step's date is a sticky timer: a step not done by then is recorded
once and escalated to the county and the city. The plan is shown on the case page and in the dossier's timeline.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intake.case.cases import CaseContext, CaseError
from intake.case.timers import PLAN_CLOCK, FireContext, set_timer
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import Complaint, Event, EventKind, Investment, PlanStep, Priority, Timer
from intake.foundation.transitions import record

from .orders import ACTOR, escalate

WHAT_MAX, OWNER_MAX = 500, 100


def serious(complaint: Complaint) -> bool:
    """The cases 一案一策 is for."""
    public = complaint.site is not None and complaint.site.investment in (Investment.GOVERNMENT, Investment.SOE)
    return bool(complaint.collective_id or complaint.supervised or public
                or complaint.priority == Priority.URGENT.value)


def steps_of(session: Session, complaint: Complaint) -> list[PlanStep]:
    return sorted(complaint.plan_steps, key=lambda step: step.due_at)  # stable: steps due together in id order


def _local(moment: datetime, calendar: WorkingCalendar) -> str:
    return moment.astimezone(calendar.timezone).strftime("%Y年%m月%d日")


def add_step(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, what: str, owner: str,
             due: datetime) -> PlanStep:
    what, owner = (what or "").strip(), (owner or "").strip()
    if not serious(complaint):
        raise CaseError("一案一策用于集体欠薪、政府投资或国有企业项目、挂牌督办和紧急案件")
    if not what or len(what) > WHAT_MAX:
        raise CaseError(f"请填写步骤内容（{WHAT_MAX}字以内）")
    if not owner or len(owner) > OWNER_MAX:
        raise CaseError(f"请填写责任人或责任单位（{OWNER_MAX}字以内）")
    if due <= ctx.now:
        raise CaseError("完成期限必须晚于现在")
    step = PlanStep(complaint=complaint, what=what, owner=owner, due_at=due, added_by=actor, added_at=ctx.now)
    session.add(step)
    session.flush()
    set_timer(session, complaint, f"{PLAN_CLOCK}:{step.id}", due)
    record(session, complaint, EventKind.PLAN_STEP_ADDED, actor=actor,
           note=f"{what}（责任：{owner}，{_local(due, ctx.calendar)}前完成）",
           data={"step_id": step.id, "owner": owner, "due_at": due.isoformat()})
    return step


def step_done(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, step_id: int,
              note: str = "") -> Event:
    step = session.get(PlanStep, step_id)
    if step is None or step.complaint_id != complaint.id or step.done_at is not None:
        raise CaseError("请选择本案一案一策中尚未完成的步骤")
    step.done_at, step.done_by, step.done_note = ctx.now, actor, (note or "").strip()[:2000] or None
    return record(session, complaint, EventKind.PLAN_STEP_DONE, actor=actor, note=f"{step.what}：已完成",
                  data={"step_id": step.id})


def has_open_step(complaint: Complaint) -> bool:
    session = Session.object_session(complaint)
    return session is not None and any(s.done_at is None for s in steps_of(session, complaint))


def fire_step(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """A step's date passed: if it is still open, record it and escalate, once (the timer fires once)."""
    step = session.get(PlanStep, int(timer.clock.split(":", 1)[1]))
    if step is None or step.done_at is not None:
        return
    text = (f"【一案一策超期】案件 {complaint.ticket_no} 的步骤“{step.what}”（责任：{step.owner}）"
            f"未在{_local(step.due_at, fire.calendar)}前完成，请督办。")
    record(session, complaint, EventKind.PLAN_STEP_OVERDUE, actor=ACTOR, note=text,
           data={"step_id": step.id, "timer_id": timer.id})
    escalate(session, complaint, fire, EventKind.PLAN_STEP_OVERDUE, text)
