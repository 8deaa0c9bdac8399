"""The ledger (台账) supervisors report to 市人社局: one row per complaint, and one per worker's claim line, over
exactly the cases the figures count (intake.supervision.figures.conditions), as plain rows for intake.supervision.spreadsheet.

Rows are streamed (yield_per: a server-side cursor on PostgreSQL) and the few timeline facts a row needs
(rejection reason, measures, who closed it) are read per batch, so 100,000 rows never sit in memory at once.
The worker's phone is masked; names stay, the ledger being the offices' own record, never a public one.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from intake.case.cases import MEASURES
from intake.foundation.models import (
    INVESTMENT_LABELS,
    Attachment,
    CaseFacts,
    ClaimLine,
    Complainant,
    Complaint,
    Department,
    Event,
    EventKind,
    Jurisdiction,
    Site,
    StaffUser,
    Status,
)
from intake.foundation.texts import ANSWERED_VIA_TEXT, CONFIRMATION_TEXT, SATISFACTION_TEXT
from intake.foundation.validation import mask_phone
from intake.people.access import Scope

from .figures import Filters, conditions, county_of

BATCH = 1000
HEADER = ("入账号", "投诉编号", "来源渠道", "收到时间", "投诉人", "联系电话", "项目（工地）", "用工单位", "区县代码", "区县",
          "承办部门", "行业", "投资类型", "人数", "欠薪金额（元）", "欠薪月数", "状态", "受理日期", "不予受理日期",
          "不予受理理由", "立案日期", "当前期限", "签收", "首次联系", "受理决定", "办理答复", "处理措施", "追回金额（元）",
          "已发放人数", "办结日期", "告知方式", "工人确认", "销号日期", "销号人", "挂牌督办", "集体欠薪", "承办人",
          "重复投诉（由此编号继续办理）", "办案材料（份）", "工人评价")
LINES_HEADER = ("入账号", "投诉编号", "工人姓名", "联系电话", "应发金额（元）", "已发金额（元）", "本人确认", "确认时间",
                "确认方式", "提醒次数")
ON_TIME = {True: "按时", False: "超期", None: ""}
SATISFIED = {True: "工资已到手", False: "工资未到手", None: ""}
INVESTMENTS = {k.value: v for k, v in INVESTMENT_LABELS.items()}
TIMELINE_KINDS = (EventKind.REJECTED, EventKind.MEASURES, EventKind.CLOSED)


@dataclass(frozen=True)
class Labels:
    """How statuses and channels are named for staff (the console's own words)."""

    status: Mapping[str, str]
    channel: Mapping[str, str]


def _when(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """The deployment's wall-clock time, to the minute: a spreadsheet date-time holds no zone."""
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) if moment else None


def _day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return moment.astimezone(zone).date() if moment else None


def _timeline(session: Session, ids: list[int]) -> dict[int, dict]:
    """Per complaint: the latest rejection reason, every measure taken, who made the latest closure."""
    found: dict[int, dict] = {i: {"measures": []} for i in ids}
    for complaint_id, kind, note, data, actor in session.execute(
            select(Event.complaint_id, Event.kind, Event.note, Event.data, Event.actor)
            .where(Event.complaint_id.in_(ids), Event.kind.in_(TIMELINE_KINDS)).order_by(Event.id)):
        facts = found[complaint_id]
        if kind == EventKind.REJECTED:
            facts["reason"] = note or ""
        elif kind == EventKind.MEASURES:
            facts["measures"] += [m for m in (data or {}).get("measures", []) if m not in facts["measures"]]
        else:
            facts["closed_by"] = actor.removeprefix("staff:") if actor.startswith("staff:") else "工人确认"
    return found


def rows(session: Session, scope: Scope, filters: Filters, timezone: str, labels: Labels) -> Iterator[tuple]:
    """One ledger row per complaint, oldest first."""
    zone = ZoneInfo(timezone)
    counties = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    c, f, survivor = Complaint, CaseFacts, aliased(Complaint)
    documents = (select(func.count()).select_from(Attachment)
                 .where(Attachment.complaint_id == c.id, Attachment.added_by.is_not(None)).scalar_subquery())
    query = (select(c.id, c.entry_no, c.ticket_no, c.channel, c.created_at, c.anonymous, Complainant.name,
                    Complainant.phone, Site.name, c.project_name, f.employer, county_of(), Department.name,
                    Site.industry, Site.investment, c.workers, c.amount, c.months, c.status, f.accepted_at,
                    f.rejected_at, f.investigated_at, c.next_due_at, f.acknowledged_on_time, f.contact_on_time,
                    f.accept_on_time, f.reply_on_time, c.amount_recovered, c.workers_paid, f.resolved_at,
                    c.satisfied, f.closed_at, c.supervised, c.collective_id, StaffUser.display_name,
                    survivor.ticket_no, documents, c.satisfaction)
             .select_from(c).join(Complainant, Complainant.id == c.complainant_id)
             .outerjoin(f, f.complaint_id == c.id)
             .outerjoin(Site, Site.id == c.site_id).outerjoin(Department, Department.id == c.department_id)
             .outerjoin(StaffUser, StaffUser.id == c.officer_id).outerjoin(survivor, survivor.id == c.duplicate_of_id)
             .where(*conditions(scope, filters, timezone)).order_by(c.id)
             .execution_options(yield_per=BATCH))
    for batch in session.execute(query).partitions():
        timeline = _timeline(session, [r[0] for r in batch])
        for (cid, entry_no, ticket_no, channel, created_at, anonymous, name, phone, site, project, employer, county,
             department, industry, investment, workers, amount, months, status, accepted_at, rejected_at,
             investigated_at, next_due_at, ack, contact, accept, reply, recovered, workers_paid, resolved_at,
             satisfied, closed_at, supervised, collective_id, officer, survivor_ticket, document_count,
             satisfaction) in batch:
            t = timeline[cid]
            channel_text = labels.channel.get(channel, channel)
            yield (entry_no or "", ticket_no, channel_text, _when(created_at, zone), "匿名" if anonymous else name or "",
                   mask_phone(phone), site or project or "", employer or "", county or "", counties.get(county, ""),
                   department or "", industry or "", INVESTMENTS.get(investment, "") if site else "", workers,
                   amount, months, labels.status.get(status, status), _day(accepted_at, zone),
                   _day(rejected_at, zone), t.get("reason", ""), _day(investigated_at, zone),
                   _when(next_due_at, zone) if status != Status.CLOSED.value else None, ON_TIME[ack],
                   ON_TIME[contact], ON_TIME[accept], ON_TIME[reply],
                   "、".join(MEASURES.get(m, m) for m in t["measures"]), recovered, workers_paid,
                   _day(resolved_at, zone), channel_text if resolved_at else "", SATISFIED[satisfied],
                   _day(closed_at, zone), t.get("closed_by", "") if closed_at else "", "是" if supervised else "",
                   "是" if collective_id else "", officer or "", survivor_ticket or "", document_count,
                   SATISFACTION_TEXT.get(satisfaction, ""))


def claim_lines(session: Session, scope: Scope, filters: Filters, timezone: str) -> Iterator[tuple]:
    """One row per worker's claim line of the same complaints."""
    zone = ZoneInfo(timezone)
    query = (select(Complaint.entry_no, Complaint.ticket_no, ClaimLine.worker_name, ClaimLine.phone,
                    ClaimLine.amount_claimed, ClaimLine.amount_paid, ClaimLine.confirmation, ClaimLine.answered_at,
                    ClaimLine.answered_via, ClaimLine.reminders)
             .join(Complaint, Complaint.id == ClaimLine.complaint_id)
             .where(*conditions(scope, filters, timezone)).order_by(Complaint.id, ClaimLine.id)
             .execution_options(yield_per=BATCH))
    for entry_no, ticket_no, worker, phone, claimed, paid, confirmation, answered_at, via, reminders in \
            session.execute(query):
        yield (entry_no or "", ticket_no, worker or "", mask_phone(phone), claimed, paid,
               CONFIRMATION_TEXT.get(confirmation, confirmation), _when(answered_at, zone),
               ANSWERED_VIA_TEXT.get(via, via or ""), reminders)
