"""Every case action of the console: its label, the fields it asks for, the statuses it is offered in and the
`intake.case.cases` operation it calls. The case page renders this table; one POST route runs it.

Fields are read by small parsers that raise CaseError with the message staff see, so a bad value changes
nothing and says exactly what is wrong.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy.orm import Session

from intake.case import cases
from intake.case.cases import MEASURES, CaseContext, CaseError
from intake.case.clocks import EXTENSIBLE, LABELS
from intake.foundation.models import Complaint, Status
from intake.people.access import Scope, departments_in_reach

S = Status
OPEN_STATES = frozenset(s.value for s in Status) - {S.CLOSED.value}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | textarea | number | date | select | checks | approve
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Action:
    label: str
    statuses: frozenset[str]
    run: Callable[[Session, Complaint, CaseContext, Scope, dict[str, Any]], Any]
    fields: tuple[Field, ...] = ()
    danger: bool = False
    # Offered only when this holds of the case and the kinds of approval it has waiting (see `offered`).
    when: Callable[[Complaint, frozenset[str]], bool] = field(default=lambda _c, _p: True)


def _statuses(*states: Status) -> frozenset[str]:
    return frozenset(s.value for s in states)


def _amount(text: str, label: str) -> int:
    try:
        value = int(text.replace(",", "").replace("，", "").strip())
    except ValueError:
        raise CaseError(f"{label}请填整数（元）") from None
    if value < 0:
        raise CaseError(f"{label}不能为负数")
    return value


def _deadline(text: str, ctx: CaseContext) -> datetime:
    """A date typed in the form: the end of that working day in the calendar's zone."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise CaseError("请填写督办期限（年-月-日）") from None
    return datetime.combine(day, ctx.calendar.periods[-1][1] if ctx.calendar.periods else time(17, 30),
                            ctx.calendar.timezone)


def _transfer(session, complaint, ctx, scope, values):
    reach = {str(d.id): d for d in departments_in_reach(session, scope)}
    target = reach.get(values["department_id"])
    if target is None:
        raise CaseError("请选择要转办的部门")
    return cases.transfer(session, complaint, ctx, department=target, actor=scope.actor, reason=values["reason"])


def _decide(kind: str):
    def run(session, complaint, ctx, scope, values):
        return cases.decide_approval(session, complaint, ctx, actor=scope.actor, kind=kind,
                                     approve=values["approve"] == "yes", note=values.get("note"))
    return run


def _pending(kind: str):
    return lambda _complaint, pending: kind in pending


def _not_pending(kind: str):
    return lambda _complaint, pending: kind not in pending


def _paused(complaint, _pending_kinds=frozenset()) -> bool:
    return any(d.get("paused") for d in (complaint.deadlines or {}).values())


WORKING = _statuses(S.ACCEPTED, S.IN_PROGRESS, S.INVESTIGATING, S.REOPENED)
APPROVE = (Field("approve", "审批意见", "approve"), Field("note", "说明（不同意时必填）", "textarea", required=False))

ACTIONS: Mapping[str, Action] = {
    "acknowledge": Action("签收", _statuses(S.ROUTED),
                          lambda s, c, ctx, sc, v: cases.acknowledge(s, c, ctx, actor=sc.actor)),
    "contact": Action("记录联系工人", _statuses(S.ROUTED, S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS, S.INVESTIGATING,
                                             S.REOPENED),
                      lambda s, c, ctx, sc, v: cases.record_contact(s, c, ctx, actor=sc.actor, note=v["note"]),
                      (Field("note", "联系情况", "textarea"),),
                      when=lambda c, _p: "contact" in (c.deadlines or {})),
    "accept": Action("受理", _statuses(S.ACKNOWLEDGED),
                     lambda s, c, ctx, sc, v: cases.accept(s, c, ctx, actor=sc.actor)),
    "reject": Action("不予受理", _statuses(S.ACKNOWLEDGED),
                     lambda s, c, ctx, sc, v: cases.reject(s, c, ctx, actor=sc.actor, reason=v["reason"]),
                     (Field("reason", "不予受理的理由（会告知工人）", "textarea"),), danger=True),
    "wait": Action("等待工人补充材料", OPEN_STATES,
                   lambda s, c, ctx, sc, v: cases.wait_for_worker(s, c, ctx, actor=sc.actor, needed=v["needed"]),
                   (Field("needed", "需要工人补充的材料（会告知工人）"),),
                   when=lambda c, _p: bool(c.next_due_at) and not _paused(c)),
    "material": Action("材料已收到，恢复计时", OPEN_STATES,
                       lambda s, c, ctx, sc, v: cases.material_received(s, c, ctx, actor=sc.actor), when=_paused),
    "measures": Action("记录处理措施", WORKING,
                       lambda s, c, ctx, sc, v: cases.record_measures(s, c, ctx, actor=sc.actor,
                                                                      measures=v["measures"], note=v.get("note")),
                       (Field("measures", "措施", "checks", choices=tuple(MEASURES.items())),
                        Field("note", "说明", "textarea", required=False))),
    "investigate": Action("立案调查", _statuses(S.ACCEPTED, S.IN_PROGRESS),
                          lambda s, c, ctx, sc, v: cases.open_investigation(s, c, ctx, actor=sc.actor,
                                                                            note=v.get("note")),
                          (Field("note", "立案说明", "textarea", required=False),)),
    "claim_line": Action("添加工人及欠薪金额", OPEN_STATES,
                         lambda s, c, ctx, sc, v: cases.add_claim_line(
                             s, c, actor=sc.actor, worker_name=v["worker_name"],
                             amount_claimed=_amount(v["amount"], "欠薪金额") if v.get("amount") else None),
                         (Field("worker_name", "工人姓名"), Field("amount", "欠薪金额（元）", "number", required=False))),
    "payment": Action("记录工资发放", OPEN_STATES,
                      lambda s, c, ctx, sc, v: cases.record_payment(
                          s, c, ctx, actor=sc.actor, line_id=int(v["line_id"]) if v["line_id"].isdigit() else 0,
                          amount_paid=_amount(v["amount_paid"], "已发放金额")),
                      (Field("line_id", "工人", "select"), Field("amount_paid", "已发放金额（元）", "number")),
                      when=lambda c, _p: bool(c.claim_lines)),
    "resolve": Action("办结", WORKING,
                      lambda s, c, ctx, sc, v: cases.resolve(
                          s, c, ctx, actor=sc.actor, outcome=v["outcome"],
                          amount_recovered=_amount(v["amount_recovered"], "追回金额"),
                          workers_paid=int(_amount(v["workers_paid"], "人数")) if v.get("workers_paid") else None),
                      (Field("outcome", "办理结果（会告知工人）", "textarea"),
                       Field("amount_recovered", "追回工资（元）", "number"),
                       Field("workers_paid", "已发放人数", "number", required=False))),
    "request_extension": Action("申请延期", WORKING,
                                lambda s, c, ctx, sc, v: cases.request_approval(
                                    s, c, ctx, actor=sc.actor, kind="extension", reason=v["reason"],
                                    clock=v["clock"], days=int(_amount(v["days"], "延期天数"))),
                                (Field("clock", "时限", "select", choices=tuple((k, LABELS[k]) for k in EXTENSIBLE)),
                                 Field("days", "延期工作日数", "number"), Field("reason", "延期理由", "textarea")),
                                when=_not_pending("extension")),
    "decide_extension": Action("审批延期申请", OPEN_STATES, _decide("extension"), APPROVE,
                               when=_pending("extension")),
    "request_return": Action("申请退回（派错部门）", _statuses(S.ROUTED, S.ACKNOWLEDGED),
                             lambda s, c, ctx, sc, v: cases.request_approval(s, c, ctx, actor=sc.actor, kind="return",
                                                                             reason=v["reason"]),
                             (Field("reason", "退回理由", "textarea"),), when=_not_pending("return")),
    "decide_return": Action("审批退回申请", _statuses(S.ROUTED, S.ACKNOWLEDGED), _decide("return"), APPROVE,
                            when=_pending("return")),
    "return": Action("退回派单中心", _statuses(S.ROUTED, S.ACKNOWLEDGED),
                     lambda s, c, ctx, sc, v: cases.return_case(s, c, ctx, actor=sc.actor, reason=v["reason"]),
                     (Field("reason", "退回理由", "textarea"),), danger=True),
    "transfer": Action("转办", _statuses(S.ROUTED, S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS, S.RETURNED), _transfer,
                       (Field("department_id", "转给", "select"), Field("reason", "转办原因", "textarea"))),
    "supervise": Action("挂牌督办", OPEN_STATES,
                        lambda s, c, ctx, sc, v: cases.supervise(s, c, ctx, actor=sc.actor,
                                                                 due=_deadline(v["due"], ctx), reason=v["reason"]),
                        (Field("due", "督办期限", "date"), Field("reason", "督办理由", "textarea"))),
    "close_override": Action("不经工人确认结案", _statuses(S.RESOLVED, S.REJECTED),
                             lambda s, c, ctx, sc, v: cases.close_by_override(s, c, ctx, actor=sc.actor,
                                                                              reason=v["reason"]),
                             (Field("reason", "理由（如工人无法联系、已核实发放）", "textarea"),), danger=True),
    "reopen": Action("重新办理", _statuses(S.RESOLVED, S.REJECTED, S.CLOSED),
                     lambda s, c, ctx, sc, v: cases.reopen(s, c, ctx, actor=sc.actor, reason=v["reason"]),
                     (Field("reason", "重新办理的理由", "textarea"),), danger=True),
    "message": Action("发消息给工人", OPEN_STATES,
                      lambda s, c, ctx, sc, v: cases.message_worker(s, c, ctx, actor=sc.actor, text=v["text"]),
                      (Field("text", f"消息内容（{cases.MESSAGE_MAX}字以内）", "textarea"),)),
}


def offered(session: Session, complaint: Complaint, scope: Scope) -> list[tuple[str, Action]]:
    """The actions this user may take on this case now, in table order. A head who may return directly is not
    also offered to ask for it."""
    pending = frozenset(cases.pending_approvals(session, complaint))
    found = [(name, a) for name, a in ACTIONS.items()
             if complaint.status in a.statuses and scope.may(name) and a.when(complaint, pending)]
    names = {n for n, _ in found}
    return [(n, a) for n, a in found if not (n == "request_return" and "return" in names)]


def read_values(action: Action, form: Mapping[str, Any]) -> dict[str, Any]:
    """The action's fields from the posted form, stripped; a missing required one is a CaseError."""
    values: dict[str, Any] = {}
    for f in action.fields:
        if f.kind == "checks":
            values[f.name] = form.getlist(f.name)
            missing = not values[f.name]
        else:
            values[f.name] = (form.get(f.name) or "").strip()
            missing = not values[f.name]
        if missing and f.required:
            raise CaseError(f"请填写{f.label}")
        if f.kind == "approve" and values[f.name] not in ("yes", "no"):
            raise CaseError("请选择同意或不同意")
    return values
