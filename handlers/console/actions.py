"""The console's face of the case actions: a label, the fields each asks for and how their values become the
operation's parameters. Which statuses offer an action and what it does is the core's one table
(intake.enforcement.actions); the case page renders this table and one POST route runs it.

Fields are read by small parsers that raise CaseError with the message staff see, so a bad value changes
nothing and says exactly what is wrong.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from intake.case import cases
from intake.case.cases import MEASURES, CaseContext, CaseError
from intake.case.clocks import EXTENSIBLE, LABELS
from intake.case.co_steps import PAYMENT_STATUSES
from intake.enforcement.police import OUTCOMES
from intake.foundation.actions import CaseAction
from intake.foundation.validation import ROW_ID_MAX


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | textarea | number | date | select | checks | approve
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()


def _same(values: dict[str, Any], _ctx: CaseContext) -> dict[str, Any]:
    return values


def _none(_values: dict[str, Any], _ctx: CaseContext) -> dict[str, Any]:
    return {}


PETITION_FIELDS = (Field("petitioned_at", "上访时间", "datetime"), Field("place", "上访地点（如市信访局）"),
                   Field("people", "人数", "number"), Field("who", "上访人（带头人姓名或“张三等”）"),
                   Field("note", "情况说明", "textarea", required=False))


@dataclass(frozen=True)
class Form:
    label: str
    fields: tuple[Field, ...] = ()
    danger: bool = False
    done: str = ""  # what staff are told when it worked (default: 已<label>)
    # The operation's keyword arguments from the checked form values (default: the values as they are).
    params: Callable[[dict[str, Any], CaseContext], dict[str, Any]] = _same


def _amount(text: str, label: str) -> int:
    """A whole number as typed (thousands commas allowed); its bounds are the case operation's to check, and a
    number too long to be one is refused here, before it becomes a huge int."""
    digits = text.replace(",", "").replace("，", "").strip()
    if not re.fullmatch(r"-?\d{1,15}", digits):
        raise CaseError(f"{label}请填整数（元）")
    return int(digits)


def _row_id(text: str) -> int:
    """A chosen row's id from a select; 0 (found nowhere) for anything else."""
    return int(text) if re.fullmatch(r"\d{1,10}", text) and int(text) <= ROW_ID_MAX else 0


def _deadline(text: str, ctx: CaseContext, label: str = "督办期限") -> datetime:
    """A date typed in the form: the end of that working day in the calendar's zone."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise CaseError(f"请填写{label}（年-月-日）") from None
    return datetime.combine(day, ctx.calendar.periods[-1][1] if ctx.calendar.periods else time(17, 30),
                            ctx.calendar.timezone)


def _day(text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise CaseError("请填写拨付日期（年-月-日）") from None


def _moment(text: str, ctx: CaseContext, label: str) -> datetime:
    """A date and time typed in the form (datetime-local), in the calendar's zone."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M").replace(tzinfo=ctx.calendar.timezone)
    except ValueError:
        raise CaseError(f"请填写{label}（年-月-日 时:分）") from None


def _people(text: str) -> int:
    if not re.fullmatch(r"\d{1,6}", text.strip()):
        raise CaseError("上访人数请填数字")
    return int(text)


def petition_params(values: dict[str, Any], ctx: CaseContext) -> dict[str, Any]:
    """The petition's fields as the operation takes them (the case page's form and the petitions page share them)."""
    return {"petitioned_at": _moment(values["petitioned_at"], ctx, "上访时间"), "place": values["place"],
            "people": _people(values["people"]), "who": values["who"], "note": values.get("note", "")}


def _approval(values: dict[str, Any], _ctx: CaseContext) -> dict[str, Any]:
    return {"approve": values["approve"] == "yes", "note": values.get("note")}


APPROVE = (Field("approve", "审批意见", "approve"), Field("note", "说明（不同意时必填）", "textarea", required=False))
REASON = "reason"
A = CaseAction

FORMS: Mapping[CaseAction, Form] = {
    A.ACKNOWLEDGE: Form("签收", params=_none),
    A.CONTACT: Form("记录联系工人", (Field("note", "联系情况", "textarea"),)),
    A.ACCEPT: Form("受理", params=_none),
    A.REJECT: Form("不予受理", (Field(REASON, "不予受理的理由（会告知工人）", "textarea"),), danger=True),
    A.WAIT: Form("等待工人补充材料", (Field("needed", "需要工人补充的材料（会告知工人）"),)),
    A.MATERIAL: Form("材料已收到，恢复计时", params=_none),
    A.MEASURES: Form("记录处理措施", (Field("measures", "措施", "checks", choices=tuple(MEASURES.items())),
                                Field("note", "说明", "textarea", required=False))),
    A.INVESTIGATE: Form("立案调查", (Field("note", "立案说明", "textarea", required=False),)),
    A.CLAIM_LINE: Form("添加工人及欠薪金额",
                       (Field("worker_name", "工人姓名"), Field("amount", "欠薪金额（元）", "number", required=False),
                        Field("phone", "手机号（办结后由本人确认工资到手）", required=False)),
                       params=lambda v, _ctx: {"worker_name": v["worker_name"], "amount_claimed": _amount(
                           v["amount"], "欠薪金额") if v.get("amount") else None, "phone": v.get("phone") or None}),
    A.PAYMENT: Form("记录工资发放", (Field("line_id", "工人", "select"), Field("amount_paid", "已发放金额（元）", "number")),
                    params=lambda v, _ctx: {"line_id": _row_id(v["line_id"]),
                                            "amount_paid": _amount(v["amount_paid"], "已发放金额")}),
    A.RESOLVE: Form("办结", (Field("outcome", "办理结果（会告知工人）", "textarea"),
                           Field("amount_recovered", "追回工资（元）", "number"),
                           Field("workers_paid", "已发放人数", "number", required=False)),
                    params=lambda v, _ctx: {"outcome": v["outcome"],
                                            "amount_recovered": _amount(v["amount_recovered"], "追回金额"),
                                            "workers_paid": _amount(v["workers_paid"], "人数")
                                            if v.get("workers_paid") else None}),
    A.REQUEST_EXTENSION: Form("申请延期", (Field("clock", "时限", "select", choices=tuple((k, LABELS[k]) for k in EXTENSIBLE)),
                                       Field("days", "延期工作日数", "number"), Field(REASON, "延期理由", "textarea")),
                              params=lambda v, _ctx: {"clock": v["clock"], "reason": v[REASON],
                                                      "days": _amount(v["days"], "延期天数")}),
    A.DECIDE_EXTENSION: Form("审批延期申请", APPROVE, params=_approval),
    A.REQUEST_RETURN: Form("申请退回（派错部门）", (Field(REASON, "退回理由", "textarea"),)),
    A.DECIDE_RETURN: Form("审批退回申请", APPROVE, params=_approval),
    A.RETURN: Form("退回派单中心", (Field(REASON, "退回理由", "textarea"),), danger=True),
    A.TRANSFER: Form("转办", (Field("department_id", "转给", "select"), Field(REASON, "转办原因", "textarea")),
                     params=lambda v, _ctx: {"department_id": _row_id(v["department_id"]), "reason": v[REASON]}),
    A.SUPERVISE: Form("挂牌督办", (Field("due", "督办期限", "date"), Field(REASON, "督办理由", "textarea")),
                      params=lambda v, ctx: {"due": _deadline(v["due"], ctx), "reason": v[REASON]}),
    A.CLOSE_OVERRIDE: Form("不经工人确认结案", (Field(REASON, "理由（如工人无法联系、已核实发放）", "textarea"),), danger=True),
    A.REOPEN: Form("重新办理", (Field(REASON, "重新办理的理由", "textarea"),), danger=True),
    A.TAKE: Form("我来办理", params=_none, done="您已是本案承办人"),
    A.ASSIGN: Form("指定承办人", (Field("officer_id", "承办人", "select"),),
                   params=lambda v, _ctx: {"officer_id": int(v["officer_id"]) if v["officer_id"].isdigit() else 0}),
    A.RELEASE: Form("交回部门（不再承办）", params=_none, done="已交回部门，暂无承办人"),
    A.NOTE: Form("内部备注（工人看不到）", (Field("note", f"备注（{cases.NOTE_MAX}字以内，只有工作人员能看到）", "textarea"),),
                 done="已添加内部备注"),
    A.MARK_DUPLICATE: Form("标为重复投诉", (Field("survivor", "继续办理的投诉编号（同一工人、同一工地）"),
                                          Field(REASON, "说明", "textarea")), danger=True,
                           done="已标为重复投诉，工人已收到继续办理的编号"),
    A.UNMARK_DUPLICATE: Form("撤销重复标记", (Field(REASON, "撤销理由", "textarea"),), danger=True,
                             done="已撤销重复标记，本案恢复计时"),
    A.MESSAGE: Form("发消息给工人", (Field("text", f"消息内容（{cases.MESSAGE_MAX}字以内）", "textarea"),)),
    A.ORDER_PAYMENT: Form("责令限期支付", (Field("employer", "被责令支付的用人单位"),
                                       Field("amount", "应支付金额（元）", "number"), Field("due", "支付期限", "date"),
                                       Field("percent", "逾期加付赔偿金比例（%）", "number")),
                          params=lambda v, ctx: {"employer": v["employer"], "amount": _amount(v["amount"], "应支付金额"),
                                                 "due": _deadline(v["due"], ctx, "支付期限"),
                                                 "compensation_percent": _amount(v["percent"], "赔偿金比例")}),
    A.ORDER_PAID: Form("记录已按期支付", (Field("note", "支付情况", "textarea", required=False),)),
    A.POLICE_TRANSFER: Form("移送公安", (Field("police", "接收移送的公安机关"),
                                    Field("note", "移送说明", "textarea", required=False)), danger=True),
    A.POLICE_RECEIPT: Form("记录公安机关签收回执", (Field("note", "回执编号或说明", "textarea", required=False),)),
    A.POLICE_DECISION: Form("记录公安机关立案结果", (Field("outcome", "结果", "select", choices=tuple(OUTCOMES.items())),
                                             Field(REASON, "理由（不予立案时必填）", "textarea", required=False))),
    A.PLAN_STEP: Form("一案一策：添加步骤", (Field("what", "步骤内容"), Field("owner", "责任人或责任单位"),
                                        Field("due", "完成期限", "date")),
                      params=lambda v, ctx: {"what": v["what"], "owner": v["owner"],
                                             "due": _deadline(v["due"], ctx, "完成期限")}),
    A.PLAN_STEP_DONE: Form("一案一策：步骤完成", (Field("step_id", "步骤", "select"),
                                           Field("note", "完成情况", "textarea", required=False)),
                           params=lambda v, _ctx: {"step_id": _row_id(v["step_id"]), "note": v["note"]}),
    A.CLEARING_NOTICE: Form("函告住建部门清出建筑市场", (Field("employer", "要清出的单位"),
                                                Field(REASON, "事实和依据", "textarea")), danger=True),
    A.CLEARING_REPLY: Form("记录住建部门回复", (Field("reply", "回复内容（如已清出、已限制投标）", "textarea"),)),
    A.MERGE_COLLECTIVE: Form("并入集体欠薪案件", (Field("other", "同一集体的另一投诉编号", "text"),
                                            Field(REASON, "合并理由", "textarea"))),
    A.SPLIT_COLLECTIVE: Form("移出集体欠薪案件", (Field(REASON, "移出理由", "textarea"),), danger=True),
    A.UNMERGE_COLLECTIVE: Form("撤销并案", (Field(REASON, "撤销理由", "textarea"),), danger=True,
                               done="已撤销并案，各投诉已恢复到合并前的分组"),
    A.CO_FUNDS: Form("记录资金拨付（协办）", (Field("amount", "拨付金额（元）", "number"), Field("paid_on", "拨付日期", "date"),
                                      Field("to_whom", "拨付对象（如建设单位、总承包单位）")),
                     params=lambda v, _ctx: {"amount": _amount(v["amount"], "拨付金额"), "paid_on": _day(v["paid_on"]),
                                             "to_whom": v["to_whom"]}),
    A.CO_PAYMENT_STATUS: Form("记录项目款支付情况（协办）",
                              (Field("status", "支付情况", "select", choices=tuple(PAYMENT_STATUSES.items())),
                               Field("note", "说明", "textarea", required=False))),
    A.CO_REPLY: Form("协办答复", (Field("text", "答复内容", "textarea"),)),
    A.PETITION: Form("记录上访", PETITION_FIELDS, params=petition_params),
}


def read_values(action: Form, form: Mapping[str, Any]) -> dict[str, Any]:
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
