"""What a worker reads about their case, on every channel: plain Chinese, no office jargon."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .models import Event, EventKind, Satisfaction, Status

# What a worker is told at each step of their case (the keys are the notice kinds: worker_<key>).
WORKER_TEXT = {
    "received": "【清零】已收到您反映的欠薪问题，受理编号{ticket}，请保存。查进度：{status_url}",
    "acknowledged": "【清零】编号{ticket}已由{department}签收{phone_part}，会尽快联系您。",
    "waiting": "【清零】编号{ticket}：{department}需要您补充{needed}，请尽快提供。",
    "accepted": "【清零】编号{ticket}已受理，{department}正在处理。",
    "rejected": "【清零】编号{ticket}不予受理，原因：{reason}。有疑问请拨打{hotline}。",
    "resolved": "【清零】编号{ticket}已办结：{outcome}。工资到手了吗？回复1：已收到；回复2：没收到或不够。"
                "也可打开{confirm_url}确认。",
    # The same question to one worker of a case with several (a claim line of its own), and its reminder.
    "confirm": "【清零】{name}您好，编号{ticket}已办结{paid}。工资到手了吗？回复1：已收到；回复2：没收到或不够。"
               "也可打开{confirm_url}确认。",
    # The complainant of such a case who is not one of its workers: each worker answers for themselves.
    "resolved_lines": "【清零】编号{ticket}已办结：{outcome}。每位工人会分别收到确认短信。",
    "closed": "【清零】编号{ticket}已结案，感谢您的反映。您对处理结果满意吗？回复1满意 2基本满意 3不满意。"
              "也可打开{confirm_url}评价。",
    "reopened": "【清零】编号{ticket}已重新处理，{department}会再联系您。",
    "message": "【清零】编号{ticket}，{department}：{message}",
    "transferred": "【清零】编号{ticket}已转给{department}办理，他们会尽快联系您。",
    "duplicate": "【清零】您反映的编号{ticket}和编号{survivor}是同一件事，合在{survivor}一起办理。以后请用编号{survivor}查进度。",
    "separated": "【清零】编号{ticket}恢复单独办理，{department}会继续处理。",
}

STATUS_TEXT = {
    Status.RECEIVED: "已收到，正在分派给负责的部门",
    Status.ROUTED: "已派给负责部门，等待部门签收",
    Status.ACKNOWLEDGED: "负责部门已签收，会尽快联系您",
    Status.ACCEPTED: "已受理，正在处理",
    Status.REJECTED: "不予受理（原因已告知您）",
    Status.IN_PROGRESS: "正在处理",
    Status.INVESTIGATING: "已立案调查",
    Status.RESOLVED: "已办结，请确认工资是否到手",
    Status.CLOSED: "已结案",
    Status.RETURNED: "正在重新分派",
    Status.REOPENED: "已重新处理",
    Status.DUPLICATE: "和您的另一件投诉是同一件事，合在一起办理",
}

# One worker's answer to 工资到手了吗 (ClaimLine.confirmation, None: not asked) and how it came, for staff.
CONFIRMATION_TEXT = {None: "未询问", "asked": "待确认", "confirmed": "已到手", "disputed": "没收到或不够"}
ANSWERED_VIA_TEXT = {"web": "确认链接", "sms": "短信", "wechat": "微信"}
# The worker's grade of a closed case (Complaint.satisfaction), in their words and staff's.
SATISFACTION_TEXT = {Satisfaction.SATISFIED: "满意", Satisfaction.BASIC: "基本满意", Satisfaction.UNSATISFIED: "不满意"}

# Steps that change no status but that the worker should see; every other event without a status change
# (reminders, escalations, co-handler notices, priority) is the offices' business and not shown.
EVENT_TEXT = {
    EventKind.RECEIVED: "收到您的反映",
    EventKind.CONTACTED: "负责部门已与您联系",
    EventKind.MEASURES: "负责部门已采取措施催讨工资",
    EventKind.CLOCKS_PAUSED: "等待您补充材料",
    EventKind.CLOCKS_RESUMED: "材料已收到，继续处理",
    EventKind.TRANSFERRED: "已转给更合适的部门办理",
    EventKind.WORKER_WROTE: "收到您补充的内容，已转给负责部门",
    EventKind.DUPLICATE_MARKED: "和您的另一件投诉是同一件事，合在一起办理",
    EventKind.DUPLICATE_UNMARKED: "恢复单独办理",
    EventKind.PAYMENT_CONFIRMED: "工人确认工资已到手",
    EventKind.PAYMENT_DISPUTED: "工人反映工资没收到或不够，已转给负责部门",
    EventKind.SATISFACTION_RATED: "收到您对处理结果的评价",
}


# What each event is called for staff and client systems (the console's timeline, webhooks, the API).
EVENT_LABELS = {
    EventKind.RECEIVED: "收到投诉", EventKind.ROUTED: "派单", EventKind.TRANSFERRED: "转办",
    EventKind.ACKNOWLEDGED: "签收", EventKind.RETURNED: "退回", EventKind.ACCEPTED: "受理",
    EventKind.REJECTED: "不予受理", EventKind.CONTACTED: "联系工人", EventKind.MEASURES: "处理措施",
    EventKind.INVESTIGATION_OPENED: "立案", EventKind.RESOLVED: "办结", EventKind.CLOSED: "销号",
    EventKind.REOPENED: "重新办理", EventKind.CLOCKS_PAUSED: "暂停计时", EventKind.CLOCKS_RESUMED: "恢复计时",
    EventKind.CLOCK_EXTENDED: "延期", EventKind.CLOCK_WARNING: "黄牌预警", EventKind.CLOCK_OVERDUE: "红牌超期",
    EventKind.ESCALATED: "超期督办", EventKind.PRIORITY_SET: "优先级", EventKind.SUPERVISED: "挂牌督办",
    EventKind.SUPERVISION_OVERDUE: "督办超期", EventKind.APPROVAL_REQUESTED: "提交申请",
    EventKind.APPROVAL_DECIDED: "审批", EventKind.WORKER_MESSAGED: "发消息给工人", EventKind.WORKER_WROTE: "工人留言", EventKind.NOTE_ADDED: "内部备注",
    EventKind.ASSIGNED: "承办人", EventKind.DUPLICATE_MARKED: "标为重复投诉",
    EventKind.DUPLICATE: "重复投诉",
    EventKind.DUPLICATE_UNMARKED: "撤销重复标记", EventKind.DUPLICATE_JOINED: "重复投诉并入本案",
    EventKind.PAYMENT_CONFIRMED: "工人确认到手", EventKind.PAYMENT_DISPUTED: "工人反映未到手",
    EventKind.CONFIRMATION_REMINDED: "提醒工人确认", EventKind.SATISFACTION_RATED: "工人评价",
    EventKind.CLAIM_LINE_ADDED: "添加工人", EventKind.PAYMENT_RECORDED: "记录发放",
    EventKind.COLLECTIVE_LINKED: "关联集体案件", EventKind.COLLECTIVE_MERGED: "人工并入集体案件",
    EventKind.COLLECTIVE_SPLIT: "移出集体案件",
    EventKind.COLLECTIVE_UNMERGED: "撤销并案", EventKind.CO_HANDLER_NOTIFIED: "通知协办",
    EventKind.CO_FUNDS_RELEASED: "协办：资金拨付", EventKind.CO_PAYMENT_STATUS: "协办：项目款支付情况",
    EventKind.CO_REPLIED: "协办答复", EventKind.CO_STEP_OVERDUE: "协办超期",
    EventKind.PETITIONED: "上访",
    EventKind.EVIDENCE_LOST: "证据照片丢失", EventKind.EVIDENCE_STORED: "证据文件已存证",
    EventKind.ORDER_ISSUED: "责令限期支付", EventKind.ORDER_PAID: "已按期支付", EventKind.ORDER_EXPIRED: "限期支付逾期",
    EventKind.POLICE_TRANSFERRED: "移送公安", EventKind.POLICE_RECEIPT: "公安机关签收移送回执",
    EventKind.POLICE_DECIDED: "公安机关立案决定", EventKind.POLICE_OVERDUE: "公安机关反馈超期",
    EventKind.EMPLOYER_LISTED: "涉案单位在失信名单中",
    EventKind.PLAN_STEP_ADDED: "一案一策：新增步骤", EventKind.PLAN_STEP_DONE: "一案一策：步骤完成",
    EventKind.PLAN_STEP_OVERDUE: "一案一策：步骤超期",
    EventKind.CLEARING_SENT: "函告住建部门清出建筑市场", EventKind.CLEARING_REPLIED: "住建部门回复清出情况",
    EventKind.CLEARING_OVERDUE: "清出建筑市场回复超期", EventKind.IN_PROGRESS: "办理中", EventKind.ANONYMISED: "个人信息已清除",
}


def event_sentence(kind: str, ticket_no: str) -> str:
    """One whole sentence about an event, for a client system's webhook or API reader."""
    return f"【清零】案件{ticket_no}有新进展：{EVENT_LABELS.get(kind, '案件状态更新')}。"


def status_text(status: str) -> str:
    return STATUS_TEXT.get(Status(status), "正在处理")


def event_text(event: Event) -> str | None:
    """Timeline line for the worker, or None for an event that is not theirs to see; staff-only detail (notes,
    names of officials) is never included."""
    if event.kind in EVENT_TEXT and not (event.data or {}).get("duplicate"):
        return EVENT_TEXT[event.kind]  # clocks paused for a duplicate are not "waiting for your material"
    if event.to_status:
        return status_text(event.to_status)
    return None


def when_text(moment: datetime, timezone: str) -> str:
    """A time as people write it, in the calendar's zone: 2026年11月27日 10:05."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def amount_text(yuan: int | None) -> str:
    """35000 -> "3.5万元", 8000 -> "8000元": how people say money, for SMS-length notices."""
    if not yuan:
        return "金额不明"
    if yuan >= 10_000:
        return f"{yuan / 10_000:.2f}".rstrip("0").rstrip(".") + "万元"
    return f"{yuan}元"
