"""How the console names things for staff (the worker-facing wording is in intake.foundation.texts)."""
from __future__ import annotations

from intake.foundation.models import INVESTMENT_LABELS, Channel, Status

STATUS_LABELS = {
    Status.RECEIVED.value: "待分派", Status.ROUTED.value: "待签收", Status.ACKNOWLEDGED.value: "已签收",
    Status.ACCEPTED.value: "已受理", Status.REJECTED.value: "不予受理", Status.IN_PROGRESS.value: "办理中",
    Status.INVESTIGATING.value: "立案调查", Status.RESOLVED.value: "已办结待确认", Status.CLOSED.value: "已销号",
    Status.RETURNED.value: "已退回", Status.REOPENED.value: "重新办理",
    Status.DUPLICATE.value: "重复投诉",
}
CHANNEL_LABELS = {Channel.WEB.value: "扫码/网页", Channel.WECHAT.value: "微信公众号", Channel.SMS.value: "短信",
                  Channel.PHONE.value: "电话", Channel.WALK_IN.value: "来访", Channel.WARNING.value: "预警转案",
                  Channel.BACKLOG.value: "陈案导入", Channel.SURVEY.value: "摸排发现"}
INVESTMENT_TEXT = {k.value: v for k, v in INVESTMENT_LABELS.items()}
# A ledger export's job (intake.supervision.exports) as its requester sees it.
EXPORT_STATE_LABELS = {"pending": "生成中", "done": "可以下载", "failed": "生成失败", "expired": "已过期"}
