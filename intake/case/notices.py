"""What workers and departments are told, as outbox rows written in the transaction of the change itself.

A worker hears on the channel they used: WeChat customer-service messages (falling back to a template message,
then SMS, since WeChat refuses them 48 hours after the worker's last message), SMS, or, for the web form and
staff-entered cases, SMS to the phone they gave. An SMS 退订 is respected for every notice.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intake.delivery.outbox import enqueue, is_opted_out, notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.encryption import chat_user
from intake.foundation.models import Channel, ClaimLine, Complaint, Outbox
from intake.foundation.settings import Settings
from intake.foundation.texts import WORKER_TEXT, amount_text

from .routing import ROLE_TEXT, RoutingDecision

NEW_CASE_TEXT = "【清零】新案件{ticket}（{priority}）：{where}，{workers}人，{amount}。请及时签收。"
TRANSFER_TEXT = "【清零】转办案件{ticket}（{priority}）：{where}。原因：{reason}。请及时签收。"
CO_HANDLER_TEXT = "【清零】请知悉：案件{ticket}（{where}）由{department}办理，贵单位因{roles}需配合。"
PRIORITY_WORD = {"urgent": "紧急", "high": "高", "normal": "一般"}


def worker_destinations(session: Session, complaint: Complaint) -> list[str]:
    """Where to reach the worker, best first; SMS numbers that sent 退订 are left out. A text goes to the
    complainant's phone: on an SMS complaint the number it came from, unless staff corrected it."""
    phone = complaint.complainant.phone
    found = []
    if complaint.channel == Channel.WECHAT.value and complaint.channel_user_id:
        found += [f"wechat:{complaint.channel_user_id}", f"wechat-template:{complaint.channel_user_id}"]
    if phone and not is_opted_out(session, Channel.SMS.value, chat_user(Channel.SMS.value, phone)):
        found.append(f"sms:{phone}")
    return found


def is_complainant(complaint: Complaint, line: ClaimLine) -> bool:
    """Whether a claim line is the worker who filed the case (the same phone)."""
    return line.phone_hash is not None and line.phone_hash == complaint.complainant.phone_hash


def line_destinations(session: Session, complaint: Complaint, line: ClaimLine) -> list[str]:
    """Where to reach one worker of a case: the channel they filed on when they are its complainant, else an SMS
    to the phone on their claim line (unless it sent 退订)."""
    if is_complainant(complaint, line):
        return worker_destinations(session, complaint)
    if line.phone and not is_opted_out(session, Channel.SMS.value, line.phone):
        return [f"sms:{line.phone}"]
    return []


def tell_worker(session: Session, settings: Settings, complaint: Complaint, kind: str, now: datetime,
                line: ClaimLine | None = None, flush: bool = True, **facts: str) -> Outbox | None:
    """Enqueue one notice to the complainant, or to one worker of the case (`line`); the later destinations ride
    along as fallbacks for the outbox. flush=False leaves its insert to the caller's next flush."""
    destinations = (worker_destinations(session, complaint) if line is None
                    else line_destinations(session, complaint, line))
    if not destinations:
        return None
    department = complaint.department
    phone = (department.phone if department else None) or ""
    text = WORKER_TEXT[kind].format(
        ticket=complaint.ticket_no, status_url=settings.public_url("/status"),
        department=department.name if department else "负责部门",
        phone_part=f"（电话{phone}）" if phone else "", hotline=settings.dialogue.hotline,
        **{"reason": "", "outcome": "", "needed": "", "message": "", "name": "", "paid": "", **facts})
    payload = {"kind": f"worker_{kind}", "text": text, "ticket_no": complaint.ticket_no,
               "fallbacks": destinations[1:]}
    return enqueue(session, destinations[0], payload, complaint.id, now, flush)


def tell_departments_of_routing(session: Session, complaint: Complaint, decision: RoutingDecision,
                                now: datetime, calendar: WorkingCalendar) -> None:
    """The handling department gets the new case; co-handlers and supervisors are told why they should know, and
    by when their reply is due. The rows go out with the route's next flush."""
    where = _where(complaint)
    handler = complaint.department
    notify_department(session, handler, {
        "kind": "new_case", "ticket_no": complaint.ticket_no,
        "text": NEW_CASE_TEXT.format(ticket=complaint.ticket_no, priority=PRIORITY_WORD[complaint.priority],
                                     where=where, workers=complaint.workers or 1,
                                     amount=amount_text(complaint.amount)),
    }, complaint.id, now, flush=False)
    for co in decision.co_handlers:
        roles = "、".join(dict.fromkeys(ROLE_TEXT.get(r, r) for r in co.roles))
        text = CO_HANDLER_TEXT.format(ticket=complaint.ticket_no, where=where, department=handler.name, roles=roles)
        due = co.handling.due_at
        if due is not None:
            text += f"请于{due.astimezone(calendar.timezone):%m月%d日%H:%M}前提交协办答复。"
        notify_department(session, co.department, {
            "kind": "co_handler", "ticket_no": complaint.ticket_no, "text": text}, complaint.id, now, flush=False)


def tell_department_of_transfer(session: Session, complaint: Complaint, reason: str, now: datetime) -> None:
    notify_department(session, complaint.department, {
        "kind": "transferred", "ticket_no": complaint.ticket_no,
        "text": TRANSFER_TEXT.format(ticket=complaint.ticket_no, priority=PRIORITY_WORD[complaint.priority],
                                     where=_where(complaint), reason=reason),
    }, complaint.id, now)


def _where(complaint: Complaint) -> str:
    if complaint.site is not None:
        return f"{complaint.site.jurisdiction.name}{complaint.site.name}"
    county = complaint.jurisdiction.name if complaint.jurisdiction else ""
    return f"{county}{complaint.project_name or '工地不明'}"
