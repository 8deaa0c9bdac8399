"""The life of a case: each operation moves a complaint one step, brings its clocks in line and tells whoever
must know. They change state and flush; the caller (the worker, a console request) commits once.

Routing runs here too, as the handler of the "route" timer that every new or returned complaint gets.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from intake.delivery.outbox import notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import (
    Channel,
    ClaimLine,
    Complaint,
    Confirmation,
    Department,
    Event,
    EventKind,
    Satisfaction,
    StaffUser,
    Status,
    Timer,
)
from intake.foundation.settings import Settings
from intake.foundation.texts import SATISFACTION_TEXT
from intake.foundation.transitions import record, transition
from intake.foundation.validation import AMOUNT_MAX, DAYS_MAX, ROW_ID_MAX, WORKERS_MAX, normalise_phone
from intake.reading.photos import Photo
from intake.registry.directory import DISPATCH_DESK

from . import co_clocks, routing
from .clocks import (
    EXTENSIBLE,
    ClockError,
    Duration,
    deadline_entry,
    extend_clock,
    level_department,
    may_return,
    pause_clocks,
    reschedule_open,
    resume_clocks,
    start_clocks_for,
    stop_clock,
    store_deadlines,
)
from .complaints import ROUTE_CLOCK, attach_photos
from .entries import assign_entry_no
from .links import confirm_url
from .notices import is_complainant, tell_department_of_transfer, tell_departments_of_routing, tell_worker
from .routing import RoutingDecision, route_complaint
from .timers import CONFIRM_CLOCK, SUPERVISE_CLOCK, FireContext, cancel_timers, set_timer

MEASURES = {
    "ordered_to_pay": "责令限期支付",
    "deposit_used": "动用工资保证金",
    "emergency_fund": "启用应急周转金",
    "police": "移送公安机关",
    "blacklist": "列入失信名单",
}
SELF_SERVICE_CHANNELS = frozenset({Channel.WECHAT.value, Channel.SMS.value})
CONTACTABLE = frozenset(s.value for s in (Status.ROUTED, Status.ACKNOWLEDGED, Status.ACCEPTED, Status.IN_PROGRESS,
                                          Status.INVESTIGATING, Status.REOPENED))


class CaseError(ValueError):
    """An action the rules do not allow right now; the message is for staff, in Chinese."""


@dataclass(frozen=True)
class CaseContext:
    settings: Settings
    calendar: WorkingCalendar
    now: datetime


def _move(session: Session, complaint: Complaint, to: Status, ctx: CaseContext, *, actor: str,
          kind: EventKind | None = None, note: str | None = None, data: dict | None = None) -> Event:
    event = transition(session, complaint, to, actor=actor, kind=kind, note=note, data=data)
    start_clocks_for(session, complaint, to, ctx.now, ctx.calendar, ctx.settings.clocks)
    return event


def _required(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CaseError(f"请填写{what}")
    return text


def fire_route(session: Session, _timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """The route timer: a new or returned case is routed by the worker, off the request path."""
    route(session, complaint, CaseContext(fire.settings, fire.calendar, fire.now))


def route(session: Session, complaint: Complaint, ctx: CaseContext) -> RoutingDecision:
    """Route a received or returned case, start its acknowledge clock, tell the departments; a worker who used
    the web form (or was entered by staff) gets the receipt by SMS too, chat users already have it."""
    first = complaint.status == Status.RECEIVED.value
    # What the route writes (the case row, its events, co-handlers, notices) goes out in the caller's next flush:
    # nothing here reads it back, and one flush writes each table once.
    with session.no_autoflush:
        decision = route_complaint(session, complaint, ctx.settings, ctx.now, flush=False)
        start_clocks_for(session, complaint, Status.ROUTED, ctx.now, ctx.calendar, ctx.settings.clocks, flush=False)
        for raised_id in decision.raised:  # linked into a collective case: their limits are now the shorter ones
            reschedule_open(session, session.get(Complaint, raised_id), ctx.calendar, ctx.settings.clocks)
        for co in decision.co_handlers:
            co_clocks.start(session, complaint, co.handling, ctx.now, ctx.calendar, ctx.settings.units)
        tell_departments_of_routing(session, complaint, decision, ctx.now, ctx.calendar)
        if first and complaint.channel not in SELF_SERVICE_CHANNELS:
            tell_worker(session, ctx.settings, complaint, "received", ctx.now, flush=False)
    return decision


def transfer(session: Session, complaint: Complaint, ctx: CaseContext, *, department: Department, actor: str,
             reason: str) -> Event:
    """转办: a supervisor or the dispatch desk gives the case to another department, which must acknowledge it
    anew; the legal clocks carry on from receipt."""
    event = routing.transfer(session, complaint, department, actor, reason)
    start_clocks_for(session, complaint, Status.ROUTED, ctx.now, ctx.calendar, ctx.settings.clocks)
    complaint.officer_id = None  # a new department chooses its own officer
    tell_department_of_transfer(session, complaint, reason, ctx.now)
    tell_worker(session, ctx.settings, complaint, "transferred", ctx.now)
    return event


def acknowledge(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str) -> Event:
    event = _move(session, complaint, Status.ACKNOWLEDGED, ctx, actor=actor)
    tell_worker(session, ctx.settings, complaint, "acknowledged", ctx.now)
    return event


def return_case(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, reason: str) -> Event:
    """Send a misrouted case back (退回) within the allowed working days; the dispatch desk re-routes it."""
    reason = _required(reason, "退回理由")
    if complaint.department is not None and complaint.department.kind == DISPATCH_DESK:
        raise CaseError("派单中心不能退回案件，请转办给负责部门")
    if not may_return(session, complaint, ctx.now, ctx.calendar, ctx.settings.clocks):
        raise CaseError(f"派单已超过 {ctx.settings.clocks.return_within_days} 个工作日，不能退回，请申请转办")
    event = _move(session, complaint, Status.RETURNED, ctx, actor=actor, kind=EventKind.RETURNED, note=reason)
    complaint.officer_id = None
    set_timer(session, complaint, ROUTE_CLOCK, ctx.now)
    return event


def record_contact(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, note: str) -> Event:
    """First contact with the worker made: the contact clock stops."""
    if complaint.status not in CONTACTABLE:
        raise CaseError("案件当前状态不能记录联系情况")
    event = record(session, complaint, EventKind.CONTACTED, actor=actor, note=_required(note, "联系情况"))
    stop_clock(session, complaint, "contact")
    return event


def wait_for_worker(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, needed: str) -> int:
    """Waiting for the worker's material (欠条, 考勤 ...): the clocks pause and the worker is told what to send."""
    needed = _required(needed, "需要工人补充的材料")
    paused = pause_clocks(session, complaint, ctx.now, actor=actor, reason=needed)
    if not paused:
        raise CaseError("案件没有正在计时的期限，无需暂停")
    tell_worker(session, ctx.settings, complaint, "waiting", ctx.now, needed=needed)
    return paused


def material_received(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str) -> int:
    """The material arrived: the clocks run again, later by the working time they stood still."""
    resumed = resume_clocks(session, complaint, ctx.now, ctx.calendar, ctx.settings.clocks, actor=actor)
    if not resumed:
        raise CaseError("案件的期限没有暂停")
    return resumed


def accept(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str) -> Event:
    event = _move(session, complaint, Status.ACCEPTED, ctx, actor=actor)
    assign_entry_no(session, complaint, ctx.now.astimezone(ctx.calendar.timezone))
    tell_worker(session, ctx.settings, complaint, "accepted", ctx.now)
    return event


def reject(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, reason: str) -> Event:
    reason = _required(reason, "不予受理的理由")
    event = _move(session, complaint, Status.REJECTED, ctx, actor=actor, note=reason)
    tell_worker(session, ctx.settings, complaint, "rejected", ctx.now, reason=reason)
    return event


def record_measures(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str,
                    measures: list[str], note: str | None = None) -> Event:
    """Measures taken (责令支付, 保证金, 应急周转金, 移送公安 ...); the first ones start the handling (in_progress)."""
    unknown = [m for m in measures if m not in MEASURES]
    if not measures or unknown:
        raise CaseError(f"请选择处理措施：{'、'.join(MEASURES.values())}")
    data = {"measures": measures}
    if complaint.status in (Status.ACCEPTED.value, Status.REOPENED.value):
        return _move(session, complaint, Status.IN_PROGRESS, ctx, actor=actor, kind=EventKind.MEASURES, note=note,
                     data=data)
    if complaint.status not in (Status.IN_PROGRESS.value, Status.INVESTIGATING.value):
        raise CaseError("案件受理后才能记录处理措施")
    return record(session, complaint, EventKind.MEASURES, actor=actor, note=note, data=data)


def open_investigation(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str,
                       note: str | None = None) -> Event:
    """立案: the 60-working-day investigation clock replaces the work order's reply clock."""
    return _move(session, complaint, Status.INVESTIGATING, ctx, actor=actor, kind=EventKind.INVESTIGATION_OPENED,
                 note=note)


def resolve(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, outcome: str,
            amount_recovered: int, workers_paid: int | None) -> Event:
    """办结: the outcome and the money recovered; the worker is asked to confirm the money arrived. With claim
    lines the recovered sum is theirs: another figure is refused, naming the lines, so the case, the ledger, the
    figures and the API never disagree."""
    outcome = _required(outcome, "办理结果")
    _within(amount_recovered, AMOUNT_MAX, "追回金额")
    if workers_paid is not None:
        _within(workers_paid, WORKERS_MAX, "人数")
    lines = session.scalars(select(ClaimLine).where(ClaimLine.complaint_id == complaint.id)
                            .order_by(ClaimLine.id)).all()
    paid = sum(line.amount_paid for line in lines)
    if lines and amount_recovered != paid:
        short = "、".join(f"{line.worker_name}（诉求{line.amount_claimed or 0}元，已付{line.amount_paid}元）"
                         for line in lines if line.amount_paid != (line.amount_claimed or 0))
        raise CaseError(f"追回金额 {amount_recovered} 元与工人明细的已付合计 {paid} 元不一致"
                        + (f"，已付与诉求不同的：{short}" if short else "") + "。请先在工人明细中记录每人的发放")
    complaint.amount_recovered = amount_recovered
    complaint.workers_paid = workers_paid
    complaint.satisfied = complaint.satisfaction = complaint.satisfaction_at = None
    event = _move(session, complaint, Status.RESOLVED, ctx, actor=actor, note=outcome,
                  data={"amount_recovered": amount_recovered, "workers_paid": workers_paid})
    _ask_to_confirm(session, complaint, ctx, outcome)
    return event


# --- 回访: every worker confirms their own money --------------------------------------------------------
#
# After 办结 the worker is asked 工资到手了吗: the complainant alone, or, when the case lists its workers with
# phones (claim lines), each of those workers on their own line, over the channel they filed on or by SMS.
# Each answer is recorded on its line and on the timeline; a no reopens the case and tells the department.
# 销号 follows the last yes; a supervisor may close without the answers still missing once their reminders
# (the "confirm" timer, every [clocks] confirm_reminder_days working days) ran out.


def asked_lines(complaint: Complaint) -> list[ClaimLine]:
    """The workers asked one by one: the claim lines with a phone (none: the complainant answers for the case)."""
    return [line for line in complaint.claim_lines if line.phone]


def _ask_to_confirm(session: Session, complaint: Complaint, ctx: CaseContext, outcome: str) -> None:
    """The questions of 办结 (a worker who already said yes at an earlier 办结 is not asked again), and the first
    reminder's timer."""
    asked = asked_lines(complaint)
    lines = [line for line in asked if line.confirmation != Confirmation.CONFIRMED]
    if not asked:
        tell_worker(session, ctx.settings, complaint, "resolved", ctx.now, outcome=outcome,
                    confirm_url=confirm_url(ctx.settings, complaint))
    else:
        for line in lines:
            line.confirmation, line.asked_at, line.reminders = Confirmation.ASKED.value, ctx.now, 0
            _ask_line(session, complaint, ctx, line)
        if not any(is_complainant(complaint, line) for line in lines):
            tell_worker(session, ctx.settings, complaint, "resolved_lines", ctx.now, outcome=outcome)
    _next_reminder(session, complaint, ctx, 1)


def _ask_line(session: Session, complaint: Complaint, ctx: CaseContext, line: ClaimLine | None) -> None:
    """The question to one worker of the case (or to the complainant: line None), with their own link."""
    name = line.worker_name if line is not None else complaint.complainant.name
    paid = f"，记录发给您{line.amount_paid}元" if line is not None else ""
    tell_worker(session, ctx.settings, complaint, "confirm", ctx.now, line=line, name=name or "", paid=paid,
                confirm_url=confirm_url(ctx.settings, complaint, line))


def _next_reminder(session: Session, complaint: Complaint, ctx: CaseContext, round_: int) -> None:
    due = Duration(ctx.settings.clocks.confirm_reminder_days, "wd").after(ctx.calendar, ctx.now)
    set_timer(session, complaint, f"{CONFIRM_CLOCK}:{round_}", due)


def fire_confirm(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """A reminder round: whoever has not answered is asked again; after the last round the department hears that
    a supervisor may now close without the missing answers."""
    ctx = CaseContext(fire.settings, fire.calendar, fire.now)
    round_, limit = int(timer.clock.split(":", 1)[1]), fire.settings.clocks.confirm_reminders
    lines = [line for line in asked_lines(complaint) if line.confirmation == Confirmation.ASKED]
    if asked_lines(complaint) and not lines:
        return
    for line in lines:
        line.reminders = round_
    for line in lines or [None]:
        _ask_line(session, complaint, ctx, line)
    names = "、".join(line.worker_name or "未留名" for line in lines) or (complaint.complainant.name or "投诉人")
    record(session, complaint, EventKind.CONFIRMATION_REMINDED, actor="system:clock",
           note=f"第{round_}次提醒确认：{names}", data={"line_ids": [line.id for line in lines], "round": round_})
    if round_ < limit:
        _next_reminder(session, complaint, ctx, round_ + 1)
        return
    notify_department(session, complaint.department, {
        "kind": EventKind.CONFIRMATION_REMINDED, "ticket_no": complaint.ticket_no,
        "text": f"【清零】案件{complaint.ticket_no}已提醒{limit}次，{names}仍未确认工资到手。请电话回访；"
                "确实联系不上的，可由主管填写理由后不经确认结案。"}, complaint.id, fire.now)


def confirm_payment(session: Session, complaint: Complaint, ctx: CaseContext, *, paid: bool, actor: str,
                    line: ClaimLine | None = None) -> Event:
    """回访: one worker says whether their money arrived. A no reopens the case; the yes that completes the answers
    closes it (销号). The complainant of a case asked worker by worker answers on their own line."""
    if complaint.status == Status.CLOSED.value:
        raise CaseError("这件投诉已经销号结案了，无需再确认。")
    lines = asked_lines(complaint)
    if line is None and lines:
        line = next((ln for ln in lines if is_complainant(complaint, ln)), None)
        if line is None:
            raise CaseError("这件案件由每位工人分别确认，请用您自己收到的短信或链接回复。")
    if line is None:
        return _confirm_alone(session, complaint, ctx, paid=paid, actor=actor)
    if line.confirmation is None:
        raise CaseError("案件还没有办结，无需确认")
    if line.confirmation == Confirmation.CONFIRMED:
        raise CaseError("您已经确认过工资到手了，谢谢。")
    name = line.worker_name or "工人"
    line.confirmation = (Confirmation.CONFIRMED if paid else Confirmation.DISPUTED).value
    line.answered_at, line.answered_via = ctx.now, actor.removeprefix("worker:")
    event = record(session, complaint, EventKind.PAYMENT_CONFIRMED if paid else EventKind.PAYMENT_DISPUTED,
                   actor=actor, note=f"{name}：{'工资已到手' if paid else '工资没收到或不够'}",
                   data={"line_id": line.id, "paid": paid, "via": line.answered_via})
    if not paid:
        complaint.satisfied = False
        notify_department(session, complaint.department, {
            "kind": EventKind.PAYMENT_DISPUTED, "ticket_no": complaint.ticket_no,
            "text": f"【清零】案件{complaint.ticket_no}：工人{name}反映工资没收到或不够，请尽快核实。"},
            complaint.id, ctx.now)
        if complaint.status == Status.RESOLVED.value:
            _move(session, complaint, Status.REOPENED, ctx, actor=actor, kind=EventKind.REOPENED,
                  note=f"工人{name}反映工资没收到或不够")
    elif complaint.status == Status.RESOLVED.value and all(
            ln.confirmation == Confirmation.CONFIRMED for ln in complaint.claim_lines):
        complaint.satisfied = True
        _move(session, complaint, Status.CLOSED, ctx, actor=actor, kind=EventKind.CLOSED, note="每位工人都已确认工资到手")
        _tell_closed(session, complaint, ctx)
    return event


def _confirm_alone(session: Session, complaint: Complaint, ctx: CaseContext, *, paid: bool, actor: str) -> Event:
    """The complainant answers for the case: a yes closes (销号), a no reopens it."""
    if complaint.status != Status.RESOLVED.value:
        raise CaseError("案件还没有办结，无需确认")
    complaint.satisfied = paid
    if paid:
        event = _move(session, complaint, Status.CLOSED, ctx, actor=actor, kind=EventKind.CLOSED, note="工人确认工资已到手")
        _tell_closed(session, complaint, ctx)
    else:
        event = _move(session, complaint, Status.REOPENED, ctx, actor=actor, kind=EventKind.REOPENED, note="工人反映工资未到手")
        tell_worker(session, ctx.settings, complaint, "reopened", ctx.now)
    return event


def _tell_closed(session: Session, complaint: Complaint, ctx: CaseContext) -> None:
    """销号 told to the worker, who is asked to grade how the case was handled (by reply, or on their link)."""
    tell_worker(session, ctx.settings, complaint, "closed", ctx.now, confirm_url=confirm_url(ctx.settings, complaint))


def rate(session: Session, complaint: Complaint, ctx: CaseContext, *, satisfaction: Satisfaction,
         actor: str) -> Event:
    """The worker grades a closed case 满意 / 基本满意 / 不满意, once per closure (a new 办结 asks again); the grade
    is what the figures' 满意率 and the rankings count. The grade is set only where none is yet, in one statement,
    so of two answers at once (a double tap) the second is refused."""
    if complaint.status != Status.CLOSED.value:
        raise CaseError("案件结案后才能评价")
    taken = session.execute(update(Complaint).where(Complaint.id == complaint.id, Complaint.satisfaction.is_(None))
                            .values(satisfaction=satisfaction.value, satisfaction_at=ctx.now))
    if taken.rowcount != 1:
        session.refresh(complaint, ["satisfaction"])
        raise CaseError(f"您已经评价过了（{SATISFACTION_TEXT[complaint.satisfaction]}），谢谢。")
    return record(session, complaint, EventKind.SATISFACTION_RATED, actor=actor,
                  note=f"工人评价：{SATISFACTION_TEXT[satisfaction]}",
                  data={"satisfaction": satisfaction.value, "via": actor.removeprefix("worker:")})


def unconfirmed(complaint: Complaint, settings: Settings) -> tuple[list[ClaimLine], list[ClaimLine]]:
    """The workers whose yes is missing: those still within their reminders, and those past them (or without a
    phone to ask), for whom a supervisor may close the case."""
    waiting, given_up = [], []
    for line in complaint.claim_lines:
        if line.confirmation == Confirmation.CONFIRMED:
            continue
        within = line.phone and line.confirmation == Confirmation.ASKED and line.reminders < settings.clocks.confirm_reminders
        (waiting if within else given_up).append(line)
    return waiting, given_up


def reopen(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, reason: str) -> Event:
    """A wrong closure or rejection found by staff or a supervisor."""
    event = _move(session, complaint, Status.REOPENED, ctx, actor=actor, kind=EventKind.REOPENED,
                  note=_required(reason, "重新处理的理由"))
    tell_worker(session, ctx.settings, complaint, "reopened", ctx.now)
    return event


# --- approvals, supervision and messages: the console's steps beyond the state machine -----------------

APPROVALS = {"extension": "延期", "return": "退回"}
APPROVAL_EVENTS = (EventKind.APPROVAL_REQUESTED, EventKind.APPROVAL_DECIDED)
MESSAGE_MAX = 300
NOTE_MAX = 1000
# The "material" timer: due at once when the worker writes while the clocks wait for them (take_worker_message).
MATERIAL_CLOCK = "material"
# How much of a worker's message the department's inbox notice quotes; the case page shows all of it.
WORKER_TEXT_PREVIEW = 60


def request_approval(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, kind: str,
                     reason: str, clock: str | None = None, days: int | None = None) -> Event:
    """Staff ask their head for an extension (clock and working days) or a return; one open request a kind."""
    if kind not in APPROVALS:
        raise CaseError("未知的申请类型")
    reason = _required(reason, f"{APPROVALS[kind]}理由")
    if pending_approval(session, complaint, kind) is not None:
        raise CaseError(f"已有待审批的{APPROVALS[kind]}申请")
    data: dict = {"kind": kind, "reason": reason}
    if kind == "extension":
        if clock not in EXTENSIBLE or not days or days <= 0:
            raise CaseError("请选择延期的时限和天数")
        _within(days, DAYS_MAX, "延期天数")
        data.update(clock=clock, days=days)
    elif kind == "return" and not may_return(session, complaint, ctx.now, ctx.calendar, ctx.settings.clocks):
        raise CaseError(f"派单已超过 {ctx.settings.clocks.return_within_days} 个工作日，不能退回，请申请转办")
    return record(session, complaint, EventKind.APPROVAL_REQUESTED, actor=actor, note=reason, data=data)


def pending_approvals(session: Session, complaint: Complaint) -> dict[str, Event]:
    """Kind -> the newest request of that kind that no decision has answered yet, from one query."""
    pending: dict[str, Event] = {}
    for event in session.scalars(select(Event).where(Event.complaint_id == complaint.id,
                                                     Event.kind.in_(APPROVAL_EVENTS))
                                 .order_by(Event.id)):
        kind = event.data.get("kind")
        if event.kind == EventKind.APPROVAL_REQUESTED:
            pending[kind] = event
        else:
            pending.pop(kind, None)
    return pending


def pending_approval(session: Session, complaint: Complaint, kind: str) -> Event | None:
    return pending_approvals(session, complaint).get(kind)


def decide_approval(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, kind: str,
                    approve: bool, note: str | None = None) -> Event:
    """The head approves (the extension or return is carried out now) or declines, with a note for staff."""
    request = pending_approval(session, complaint, kind)
    if request is None:
        raise CaseError(f"没有待审批的{APPROVALS.get(kind, '')}申请")
    if not approve:
        note = _required(note, "不同意的理由")
    decided = record(session, complaint, EventKind.APPROVAL_DECIDED, actor=actor, note=note,
                     data={"kind": kind, "approved": approve, "request_id": request.id})
    if approve and kind == "extension":
        try:
            extend_clock(session, complaint, request.data["clock"], int(request.data["days"]), ctx.now,
                         ctx.calendar, ctx.settings.clocks, actor=request.actor, approved_by=actor)
        except ClockError as exc:
            raise CaseError(str(exc)) from None
    elif approve:
        return_case(session, complaint, ctx, actor=request.actor, reason=request.data["reason"])
    return decided


def close_by_override(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str,
                      reason: str) -> Event:
    """A supervisor closes (销号) without the worker's confirmation, e.g. a worker who cannot be reached after
    the money was paid, or a rejection that stands; the reason is on the record."""
    reason = _required(reason, "不经工人确认结案的理由")
    if complaint.status not in (Status.RESOLVED.value, Status.REJECTED.value):
        raise CaseError("只有已办结或不予受理的案件才能结案")
    data: dict = {"override": True}
    if complaint.status == Status.RESOLVED.value and asked_lines(complaint):
        waiting, given_up = unconfirmed(complaint, ctx.settings)
        if waiting:
            raise CaseError(f"还在等{'、'.join(ln.worker_name or '未留名' for ln in waiting)}确认工资到手；"
                            f"提醒{ctx.settings.clocks.confirm_reminders}次仍未回复的，才能不经确认结案")
        data["unconfirmed"] = [ln.id for ln in given_up]
        reason += f"（未确认：{'、'.join(ln.worker_name or '未留名' for ln in given_up)}）" if given_up else ""
    event = _move(session, complaint, Status.CLOSED, ctx, actor=actor, kind=EventKind.CLOSED, note=reason,
                  data=data)
    _tell_closed(session, complaint, ctx)
    return event


def supervise(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, due: datetime,
              reason: str) -> Event:
    """挂牌督办 by hand: the case carries a supervisor's deadline of its own until it is closed."""
    reason = _required(reason, "挂牌督办的理由")
    if complaint.status == Status.CLOSED.value:
        raise CaseError("案件已结案，不能挂牌督办")
    if due <= ctx.now:
        raise CaseError("督办期限必须晚于现在")
    cancel_timers(session, complaint, [SUPERVISE_CLOCK])
    set_timer(session, complaint, f"{SUPERVISE_CLOCK}:due", due)
    store_deadlines(complaint, {**(complaint.deadlines or {}),
                                SUPERVISE_CLOCK: deadline_entry(ctx.now, due, due, working=False)})
    complaint.supervised = True
    return record(session, complaint, EventKind.SUPERVISED, actor=actor, note=f"挂牌督办：{reason}",
                  data={"reasons": [reason], "due_at": due.isoformat(), "by_hand": True})


def fire_supervision(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """The supervisor's deadline passed with the case still open: the department and the supervisors hear."""
    settings = fire.settings
    record(session, complaint, EventKind.SUPERVISION_OVERDUE, actor="system:clock", data={"timer_id": timer.id})
    text = f"【督办超期】挂牌督办案件 {complaint.ticket_no} 已到督办期限仍未办结，请立即办理并报告。"
    payload = {"kind": EventKind.SUPERVISION_OVERDUE, "ticket_no": complaint.ticket_no, "text": text}
    targets = [complaint.department, level_department(session, complaint, "county", settings.clocks)]
    for target in dict.fromkeys(t for t in targets if t is not None):
        notify_department(session, target, payload, complaint.id, fire.now)


def message_worker(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, text: str) -> Event:
    """Staff write to the worker on the channel the worker used, through the outbox like every notice."""
    text = _required(text, "要发给工人的内容")
    if len(text) > MESSAGE_MAX:
        raise CaseError(f"消息最多 {MESSAGE_MAX} 个字")
    if tell_worker(session, ctx.settings, complaint, "message", ctx.now, message=text) is None:
        raise CaseError("工人没有可用的联系方式（可能已退订短信），请电话联系")
    return record(session, complaint, EventKind.WORKER_MESSAGED, actor=actor, note=text)


def assign(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str,
           officer: StaffUser | None) -> Event:
    """承办人: an active officer of the department that holds the case, or None to hand it back to the department."""
    if officer is not None and not (officer.active and officer.department_id is not None
                                    and officer.department_id == complaint.department_id):
        raise CaseError("只能指定本案承办部门的在岗工作人员")
    if officer is not None and complaint.officer_id == officer.id:
        raise CaseError(f"{officer.display_name}已经是本案承办人")
    if officer is None and complaint.officer_id is None:
        raise CaseError("本案还没有承办人")
    complaint.officer_id = officer.id if officer is not None else None
    note = f"承办人：{officer.display_name}" if officer is not None else "交回部门，暂无承办人"
    return record(session, complaint, EventKind.ASSIGNED, actor=actor, note=note,
                  data={"officer_id": complaint.officer_id})


def colleagues(session: Session, complaint: Complaint) -> list[StaffUser]:
    """Who may be the case's officer: the active staff of the department that holds it."""
    return staff_of(session, complaint.department_id)


def staff_of(session: Session, department_id: int | None) -> list[StaffUser]:
    """The active staff of a department, by name."""
    if department_id is None:
        return []
    return list(session.scalars(select(StaffUser).where(StaffUser.department_id == department_id,
                                                        StaffUser.active.is_(True))
                                .order_by(StaffUser.display_name)))


def add_note(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, note: str) -> Event:
    """An internal note on the case: for colleagues and supervisors, never for the worker."""
    note = _required(note, "备注内容")
    if len(note) > NOTE_MAX:
        raise CaseError(f"备注最多 {NOTE_MAX} 个字")
    return record(session, complaint, EventKind.NOTE_ADDED, actor=actor, note=note)


def take_worker_message(session: Session, complaint: Complaint, *, channel: str, text: str,
                        photos: Sequence[Photo], now: datetime) -> Event:
    """What the worker sends after the receipt goes on their case: the text on the timeline, photos as evidence
    (fetched by the worker when a provider holds them), the handling department told in its inbox. While the
    clocks wait for the worker's material, a "material" timer due now resumes them in the worker, which holds
    the working calendar; the webhook stays light. A duplicate's clocks stay paused: its survivor carries on."""
    event = record(session, complaint, EventKind.WORKER_WROTE, actor=f"worker:{channel}", note=text or None,
                   data={"photos": len(photos)})
    attach_photos(session, complaint, photos, now, actor=f"worker:{channel}")
    if complaint.duplicate_of_id is None and any(d.get("paused") for d in (complaint.deadlines or {}).values()):
        set_timer(session, complaint, MATERIAL_CLOCK, now)
    said = f"：{text[:WORKER_TEXT_PREVIEW]}" if text else ""
    sent = f"（附{len(photos)}张照片）" if photos else ""
    notify_department(session, complaint.department, {
        "kind": EventKind.WORKER_WROTE, "ticket_no": complaint.ticket_no,
        "text": f"【清零】案件{complaint.ticket_no}的工人发来新消息{sent}{said}"}, complaint.id, now)
    return event


def fire_material(session: Session, _timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """The worker sent something while the clocks waited for their material: the clocks run again."""
    resume_clocks(session, complaint, fire.now, fire.calendar, fire.settings.clocks, actor=f"worker:{complaint.channel}")


def _within(value: int, high: int, label: str) -> None:
    """A number staff or a client gave: never negative, never past what a person could mean (nor a column hold)."""
    if value < 0:
        raise CaseError(f"{label}不能为负数")
    if value > high:
        raise CaseError(f"{label}最多 {high}")


def add_claim_line(session: Session, complaint: Complaint, *, actor: str, worker_name: str,
                   amount_claimed: int | None, phone: str | None = None) -> ClaimLine:
    """One worker of the case and what they are owed (a group's complaint lists each of them); with a phone, they
    confirm their own money after 办结."""
    worker_name = _required(worker_name, "工人姓名")
    if amount_claimed is not None:
        _within(amount_claimed, AMOUNT_MAX, "金额")
    number = normalise_phone(phone) if phone else None
    if phone and number is None:
        raise CaseError("手机号不对，请填写11位手机号")
    if session.scalar(select(ClaimLine.id).where(ClaimLine.complaint_id == complaint.id,
                                                 ClaimLine.worker_name == worker_name)) is not None:
        raise CaseError(f"{worker_name}已在工人明细中")
    line = ClaimLine(complaint_id=complaint.id, worker_name=worker_name, amount_claimed=amount_claimed,
                     amount_paid=0, phone=number)
    session.add(line)
    session.flush()
    record(session, complaint, EventKind.CLAIM_LINE_ADDED, actor=actor, note=worker_name, data={"line_id": line.id})
    return line


def record_payment(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, line_id: int,
                   amount_paid: int) -> Event:
    """Money paid to one worker; the case's recovered total and paid headcount follow its lines."""
    line = session.get(ClaimLine, line_id) if 0 < line_id <= ROW_ID_MAX else None
    if line is None or line.complaint_id != complaint.id:
        raise CaseError("找不到这名工人")
    _within(amount_paid, AMOUNT_MAX, "金额")
    before, line.amount_paid = line.amount_paid, amount_paid
    lines = session.scalars(select(ClaimLine).where(ClaimLine.complaint_id == complaint.id)).all()
    complaint.amount_recovered = sum(ln.amount_paid for ln in lines)
    complaint.workers_paid = sum(1 for ln in lines if ln.amount_paid and ln.amount_paid >= (ln.amount_claimed or 0))
    return record(session, complaint, EventKind.PAYMENT_RECORDED, actor=actor,
                  note=f"{line.worker_name}：已付 {amount_paid} 元",
                  data={"line_id": line.id, "before": before, "amount_paid": amount_paid})
