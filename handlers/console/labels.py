"""How the console names things for staff (the worker-facing wording is in intake.foundation.texts)."""
from __future__ import annotations

from intake.foundation.models import INVESTMENT_LABELS, Channel, Status

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
    "received": "收到投诉", "routed": "派单", "transferred": "转办", "acknowledged": "签收", "returned": "退回",
    "accepted": "受理", "rejected": "不予受理", "contacted": "联系工人", "measures": "处理措施",
    "investigation_opened": "立案", "resolved": "办结", "closed": "销号", "reopened": "重新办理",
    "clocks_paused": "暂停计时", "clocks_resumed": "恢复计时", "clock_extended": "延期",
    "clock_warning": "黄牌预警", "clock_overdue": "红牌超期", "escalated": "超期督办", "priority_set": "优先级",
    "supervised": "挂牌督办", "supervision_overdue": "督办超期", "approval_requested": "提交申请",
    "approval_decided": "审批", "worker_messaged": "发消息给工人", "claim_line_added": "添加工人",
    "payment_recorded": "记录发放", "collective_linked": "关联集体案件", "co_handler_notified": "通知协办",
    "evidence_lost": "证据照片丢失", "in_progress": "办理中", "anonymised": "个人信息已清除",
}
