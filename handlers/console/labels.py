"""How the console names things for staff (the worker-facing wording is in intake.foundation.texts)."""
from __future__ import annotations

from intake.foundation.models import INVESTMENT_LABELS, Channel, EventKind, Status

STATUS_LABELS = {
    Status.RECEIVED.value: "待分派", Status.ROUTED.value: "待签收", Status.ACKNOWLEDGED.value: "已签收",
    Status.ACCEPTED.value: "已受理", Status.REJECTED.value: "不予受理", Status.IN_PROGRESS.value: "办理中",
    Status.INVESTIGATING.value: "立案调查", Status.RESOLVED.value: "已办结待确认", Status.CLOSED.value: "已销号",
    Status.RETURNED.value: "已退回", Status.REOPENED.value: "重新办理",
}
CHANNEL_LABELS = {Channel.WEB.value: "扫码/网页", Channel.WECHAT.value: "微信公众号", Channel.SMS.value: "短信",
                  Channel.PHONE.value: "电话", Channel.WALK_IN.value: "来访"}
INVESTMENT_TEXT = {k.value: v for k, v in INVESTMENT_LABELS.items()}
EVENT_LABELS = {
    EventKind.RECEIVED: "收到投诉", EventKind.ROUTED: "派单", EventKind.TRANSFERRED: "转办",
    EventKind.ACKNOWLEDGED: "签收", EventKind.RETURNED: "退回", EventKind.ACCEPTED: "受理",
    EventKind.REJECTED: "不予受理", EventKind.CONTACTED: "联系工人", EventKind.MEASURES: "处理措施",
    EventKind.INVESTIGATION_OPENED: "立案", EventKind.RESOLVED: "办结", EventKind.CLOSED: "销号",
    EventKind.REOPENED: "重新办理", EventKind.CLOCKS_PAUSED: "暂停计时", EventKind.CLOCKS_RESUMED: "恢复计时",
    EventKind.CLOCK_EXTENDED: "延期", EventKind.CLOCK_WARNING: "黄牌预警", EventKind.CLOCK_OVERDUE: "红牌超期",
    EventKind.ESCALATED: "超期督办", EventKind.PRIORITY_SET: "优先级", EventKind.SUPERVISED: "挂牌督办",
    EventKind.SUPERVISION_OVERDUE: "督办超期", EventKind.APPROVAL_REQUESTED: "提交申请",
    EventKind.APPROVAL_DECIDED: "审批", EventKind.WORKER_MESSAGED: "发消息给工人",
    EventKind.CLAIM_LINE_ADDED: "添加工人", EventKind.PAYMENT_RECORDED: "记录发放",
    EventKind.COLLECTIVE_LINKED: "关联集体案件", EventKind.CO_HANDLER_NOTIFIED: "通知协办",
    EventKind.CO_FUNDS_RELEASED: "协办：资金拨付", EventKind.CO_PAYMENT_STATUS: "协办：项目款支付情况",
    EventKind.CO_REPLIED: "协办答复",
    EventKind.EVIDENCE_LOST: "证据照片丢失", EventKind.IN_PROGRESS: "办理中", EventKind.ANONYMISED: "个人信息已清除",
}
