"""The audit log: who did what to which case, who saw a worker's full phone or ID number, who exported what.

Written in the same transaction as the action it records, so an action is never without its entry.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from intake.foundation.models import AuditEntry

ACTION_LABELS = {
    "login": "登录", "login_failed": "登录失败", "logout": "退出", "password_changed": "修改密码",
    "case_action": "案件操作", "reveal_phone": "查看完整手机号和身份证号",
    "export": "导出", "intake": "代录投诉", "sites_import": "导入项目", "user_created": "创建账号",
    "user_disabled": "停用账号", "user_enabled": "启用账号",
    "keys_rotated": "数据密钥轮换", "retention": "到期个人信息清除",
    "employer_listed": "列入失信名单", "employer_unlisted": "移出失信名单", "employer_code": "登记信用代码", "dead_letter_retry": "重发无法送达的消息",
    "document": "下载文书", "dossier_export": "导出案卷", "original_download": "下载证据原件",
    "employer_listing_drafted": "申请列入失信名单", "employer_listing_rejected": "驳回列入失信名单申请",
    "finding_added": "登记摸排线索", "finding_case": "摸排线索立案", "finding_resolved": "摸排线索当场解决",
}


def audit(session: Session, *, user_id: int | None, username: str, action: str, ticket_no: str | None = None,
          detail: dict[str, Any] | None = None, address: str | None = None) -> AuditEntry:
    entry = AuditEntry(user_id=user_id, username=username, action=action, ticket_no=ticket_no,
                       detail=detail or {}, address=address)
    session.add(entry)
    session.flush()
    return entry


def entries(*, username: str | None = None, ticket_no: str | None = None, action: str | None = None,
            before_id: int | None = None, limit: int = 100) -> Select:
    """Newest first, keyset-paged on id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if username:
        query = query.where(AuditEntry.username == username)
    if ticket_no:
        query = query.where(AuditEntry.ticket_no == ticket_no)
    if action:
        query = query.where(AuditEntry.action == action)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return query
