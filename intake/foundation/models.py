"""The data model of DESIGN.md, one class a table. Times are stored in UTC and come back timezone-aware."""
from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from .encryption import EncryptedBytes, EncryptedText, lookup_hash

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC out, on SQLite (no time zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class StrEnum(str, enum.Enum):
    """Stored as plain strings (no native enum type), so migrations stay simple."""

    def __str__(self) -> str:
        return self.value


class Channel(StrEnum):
    WEB = "web"
    WECHAT = "wechat"
    SMS = "sms"
    PHONE = "phone"
    WALK_IN = "walk_in"
    API = "api"
    WARNING = "warning"  # a proactive case opened from a key warning (intake.warnings)
    BACKLOG = "backlog"  # 陈案积案: a case handled before this service, imported with its original date
    SURVEY = "survey"  # 摸排: hidden arrears found in an inspection, imported as a case


class Status(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    CLOSED = "closed"
    RETURNED = "returned"
    REOPENED = "reopened"
    # 重复投诉: final while it is one (its survivor carries the matter); undoing the mark restores the status it had.
    DUPLICATE = "duplicate"


class EventKind(StrEnum):
    """What an Event on a complaint's timeline records. Event.kind stays a plain string column, so rows with a kind
    no longer written (say an old "route") still load; the code writes and compares only these."""

    # A transition without a kind of its own is named after the status it enters (transitions.transition).
    RECEIVED = Status.RECEIVED.value
    ROUTED = Status.ROUTED.value
    ACKNOWLEDGED = Status.ACKNOWLEDGED.value
    ACCEPTED = Status.ACCEPTED.value
    REJECTED = Status.REJECTED.value
    IN_PROGRESS = Status.IN_PROGRESS.value
    INVESTIGATING = Status.INVESTIGATING.value
    RESOLVED = Status.RESOLVED.value
    CLOSED = Status.CLOSED.value
    RETURNED = Status.RETURNED.value
    REOPENED = Status.REOPENED.value
    DUPLICATE = Status.DUPLICATE.value  # the mark itself is written as DUPLICATE_MARKED, a kind of its own
    # Transitions with a kind of their own: 转办 (to routed), 立案 (to investigating); the first measures move a
    # case to in_progress, later ones are recorded without a status change.
    TRANSFERRED = "transferred"
    INVESTIGATION_OPENED = "investigation_opened"
    MEASURES = "measures"
    # Staff's steps on a case that change no status.
    CONTACTED = "contacted"
    WORKER_MESSAGED = "worker_messaged"
    ASSIGNED = "assigned"  # the case's officer set, changed or handed back (data: officer_id, null when handed back)
    NOTE_ADDED = "note_added"  # an internal note: staff only, never shown or sent to the worker
    # A complaint marked a duplicate of another (data: survivor, the surviving ticket), and the mark undone; the
    # surviving case records the duplicate that points at it.
    DUPLICATE_MARKED = "duplicate_marked"
    DUPLICATE_UNMARKED = "duplicate_unmarked"
    DUPLICATE_JOINED = "duplicate_joined"
    # The worker's own follow-up on their case (a text, photos) after the receipt.
    WORKER_WROTE = "worker_wrote"
    # One worker's answer to 工资到手了吗 (data: line_id, or none for the complainant's own; paid; via), and a
    # reminder sent to those who have not answered (data: line_ids, round).
    PAYMENT_CONFIRMED = "payment_confirmed"
    PAYMENT_DISPUTED = "payment_disputed"
    SATISFACTION_RATED = "satisfaction_rated"  # the worker's grade of the closed case (data: satisfaction, via)
    CONFIRMATION_REMINDED = "confirmation_reminded"
    CLAIM_LINE_ADDED = "claim_line_added"
    PAYMENT_RECORDED = "payment_recorded"
    # The clocks: paused and resumed while waiting for the worker, extended on approval, and the cards they give.
    CLOCKS_PAUSED = "clocks_paused"
    CLOCKS_RESUMED = "clocks_resumed"
    CLOCK_EXTENDED = "clock_extended"
    CLOCK_WARNING = "clock_warning"
    CLOCK_OVERDUE = "clock_overdue"
    ESCALATED = "escalated"
    # Routing's findings: priority, collective cases, the co-handlers told.
    PRIORITY_SET = "priority_set"
    COLLECTIVE_LINKED = "collective_linked"
    COLLECTIVE_FLAGGED = "collective_flagged"
    COLLECTIVE_MERGED = "collective_merged"
    COLLECTIVE_SPLIT = "collective_split"
    COLLECTIVE_UNMERGED = "collective_unmerged"  # a manual merge undone (data: merge, the key of the merge undone)
    CO_HANDLER_NOTIFIED = "co_handler_notified"
    # 挂牌督办 (by routing's rules or by hand) and its deadline passing.
    SUPERVISED = "supervised"
    SUPERVISION_OVERDUE = "supervision_overdue"
    # A head's approval of an extension or a return: asked, then decided.
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    # A co-handler's own steps: funds released, the project's payment status, a reply.
    CO_FUNDS_RELEASED = "co_funds_released"
    CO_PAYMENT_STATUS = "co_payment_status"
    CO_REPLIED = "co_replied"
    CO_STEP_OVERDUE = "co_step_overdue"  # a co-handler's reply not given by its deadline
    PETITIONED = "petitioned"  # workers petitioned (上访) over the case: intake.case.petitions
    # Evidence that could not be fetched, and a case whose personal data retention removed.
    EVIDENCE_LOST = "evidence_lost"
    # An attachment's content stored, with its SHA-256, so the file is part of the case's hash chain.
    EVIDENCE_STORED = "evidence_stored"
    # Enforcement: an order to pay within a time limit issued, paid in time, or expired unpaid (with the
    # additional compensation it brings), and the transfer to the police.
    ORDER_ISSUED = "order_issued"
    ORDER_PAID = "order_paid"
    ORDER_EXPIRED = "order_expired"
    POLICE_TRANSFERRED = "police_transferred"
    POLICE_RECEIPT = "police_receipt"  # the police signed the transfer's receipt (回执)
    POLICE_DECIDED = "police_decided"  # 立案 or 不予立案
    POLICE_OVERDUE = "police_overdue"  # the receipt or the decision is late: escalated
    EMPLOYER_LISTED = "employer_listed"  # a party of the case is on a 失信 listing in force (noted at routing)
    PLAN_STEP_ADDED = "plan_step_added"  # 一案一策
    PLAN_STEP_DONE = "plan_step_done"
    PLAN_STEP_OVERDUE = "plan_step_overdue"
    CLEARING_SENT = "clearing_sent"  # 清出建筑市场 notice to the housing department
    CLEARING_REPLIED = "clearing_replied"
    CLEARING_OVERDUE = "clearing_overdue"
    ANONYMISED = "anonymised"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"


class Industry(StrEnum):
    BUILDING = "房屋建筑"
    MUNICIPAL = "市政"
    TRANSPORT = "交通"
    WATER = "水利"
    OTHER = "其他"


class Investment(StrEnum):
    GOVERNMENT = "government"
    SOE = "soe"
    PRIVATE = "private"


INVESTMENT_LABELS = {Investment.GOVERNMENT: "政府投资", Investment.SOE: "国有企业", Investment.PRIVATE: "社会投资"}


class Jurisdiction(Base):
    __tablename__ = "jurisdictions"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    short_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Town and street-office names that place a complaint here (义堂镇, 义堂), from the directory file.
    towns: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    minimum_wage: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    departments: Mapped[list[Department]] = relationship(back_populates="jurisdiction")
    parent: Mapped[Jurisdiction | None] = relationship(remote_side=[code])


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    contacts: Mapped[dict[str, Any]] = mapped_column(default=dict)

    jurisdiction: Mapped[Jurisdiction] = relationship(back_populates="departments")


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    address: Mapped[str | None] = mapped_column(String(500))
    industry: Mapped[str] = mapped_column(String(20), default=Industry.OTHER.value)
    investment: Mapped[str] = mapped_column(String(20), default=Investment.PRIVATE.value)
    owner: Mapped[str | None] = mapped_column(String(300))
    general_contractor: Mapped[str | None] = mapped_column(String(300))
    # Art. 34 names them on the rights notice board too: the general contractor's 项目部 on this site, and the
    # 分包单位 working there.
    project_office: Mapped[str | None] = mapped_column(String(300))
    subcontractors: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    labour_manager: Mapped[str | None] = mapped_column(String(100))
    labour_manager_phone: Mapped[str | None] = mapped_column(String(40))
    minimum_wage: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date | None] = mapped_column(Date)
    pay_day: Mapped[int | None] = mapped_column(Integer)
    # 施工合同额 in yuan: what the wage guarantee deposit (工资保证金) due is a share of (intake.warnings).
    contract_amount: Mapped[int | None] = mapped_column(BigInteger)
    public_token: Mapped[str] = mapped_column(String(64), unique=True)
    # What workers call the site (别名/简称 in the site file: 罗庄万达, 二实小), matched with its name.
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    wechat_qr_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    jurisdiction: Mapped[Jurisdiction] = relationship()


class Complainant(Base):
    """A worker. Phone and ID number are encrypted at rest (intake.foundation.encryption); queries match their keyed
    hashes, which follow the values on every assignment; lists show the ID's mask."""

    __tablename__ = "complainants"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number: Mapped[str | None] = mapped_column(EncryptedText)
    id_number_masked: Mapped[str | None] = mapped_column(String(20))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(EncryptedText)  # given by a client system (Open311); never shown in lists
    home_province: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("phone", "id_number")
    def _hash(self, key: str, value: str | None) -> str | None:
        setattr(self, f"{key}_hash", None if value is None else lookup_hash(value))
        return value


class CollectiveCase(Base):
    __tablename__ = "collective_cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    employer: Mapped[str | None] = mapped_column(String(300))
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When its head count first reached the collective threshold: its alerts fire then, once for the collective.
    flagged_at: Mapped[datetime | None]


# The predicates of the watch-list indexes, as intake.supervision.figures' queries say them (so the planner sees they apply).
SUPERVISED_OPEN = "status <> 'closed' AND supervised IS TRUE"
WATCHED_OPEN = "status <> 'closed' AND (collective_id IS NOT NULL OR priority = 'urgent')"


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_department", "status", "department_id"),
        # The console's queues: a department's cases (or everyone's) by the most urgent deadline, keyset-paged.
        Index("ix_complaints_department_due", "department_id", "next_due_at", "id"),
        Index("ix_complaints_due", "next_due_at", "id"),
        # Open cases by deadline, carrying what the overdue counts and the watch lists filter on (index-only scans).
        Index("ix_complaints_open_due", "next_due_at", "id", sqlite_where=text("status <> 'closed'"),
              postgresql_where=text("status <> 'closed'"),
              postgresql_include=["created_at", "department_id", "jurisdiction_code", "site_id", "supervised",
                                  "collective_id", "priority"]),
        # The supervisors' watch lists: few rows each, found without scanning every open case of a county.
        Index("ix_complaints_supervised_due", "next_due_at", "id",
              sqlite_where=text(SUPERVISED_OPEN), postgresql_where=text(SUPERVISED_OPEN)),
        Index("ix_complaints_watch_due", "next_due_at", "id", sqlite_where=text(WATCHED_OPEN),
              postgresql_where=text(WATCHED_OPEN)),
        # Routing's collective look-up: the complaints of one site (or one named employer in one county) in the window.
        Index("ix_complaints_collective_key", "collective_key", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(20), unique=True)
    entry_no: Mapped[str | None] = mapped_column(String(30), unique=True)
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The random reference the worker's signed links carry (intake.case.links), never the row id.
    link_ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    project_name: Mapped[str | None] = mapped_column(String(300))
    complainant_id: Mapped[int] = mapped_column(ForeignKey("complainants.id"), index=True)
    # Indexed: a worker's next message finds their open cases by the channel identity they filed from (an SMS
    # number as its identity, as the conversation has it).
    channel_user_id: Mapped[str | None] = mapped_column(String(128), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    free_text: Mapped[str] = mapped_column(Text, default="")
    claim: Mapped[dict[str, Any]] = mapped_column(default=dict)
    workers: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    months: Mapped[int | None] = mapped_column(Integer)
    amount_recovered: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    workers_paid: Mapped[int | None] = mapped_column(Integer)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)  # the money confirmed arrived (回访), or not
    satisfaction: Mapped[str | None] = mapped_column(String(12))  # Satisfaction, the worker's grade once closed
    satisfaction_at: Mapped[datetime | None]
    lookup_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lookup_locked_until: Mapped[datetime | None]
    priority: Mapped[str] = mapped_column(String(20), default=Priority.NORMAL.value)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=Status.RECEIVED.value)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    collective_id: Mapped[int | None] = mapped_column(ForeignKey("collective_cases.id"), index=True)
    # The officer of the department who has taken the case (承办人); the clocks stay the department's.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    # A duplicate's surviving complaint (same worker, same site): its clocks are paused while it points there.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    # What links it to others (intake.case.routing.collective_key): "site:<id>" or "employer:<county>:<name key>";
    # set when routed, cleared when staff split it out of a collective so it is not linked again.
    collective_key: Mapped[str | None] = mapped_column(String(340))
    # The running clocks' deadlines, kept by intake.case.clocks: {clock: {start, warn, due, working, paused}}, and
    # the earliest unpaused due of them, so a queue orders by urgency from one indexed column.
    deadlines: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    next_due_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # When `qingling retention` removed the worker's personal data from this closed case (intake.privacy.retention).
    anonymised_at: Mapped[datetime | None]
    # Every UPDATE checks the version it read: of two people acting on one case at once, the second fails
    # (StaleDataError) instead of overwriting the first. transitions.transition() bumps it.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    site: Mapped[Site | None] = relationship()
    jurisdiction: Mapped[Jurisdiction | None] = relationship()
    complainant: Mapped[Complainant] = relationship()
    department: Mapped[Department | None] = relationship()
    officer: Mapped[StaffUser | None] = relationship(foreign_keys=[officer_id])
    duplicate_of: Mapped[Complaint | None] = relationship(remote_side=[id], foreign_keys=[duplicate_of_id])
    events: Mapped[list[Event]] = relationship(order_by="Event.id", back_populates="complaint")
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", back_populates="complaint")
    claim_lines: Mapped[list[ClaimLine]] = relationship(order_by="ClaimLine.id", back_populates="complaint")
    # Enforcement's rows and the co-handlers, loaded once per case and session: the case page and the action rules
    # read them many times.
    payment_orders: Mapped[list[PaymentOrder]] = relationship(order_by="PaymentOrder.id", back_populates="complaint")
    police_transfers: Mapped[list[PoliceTransfer]] = relationship(order_by="PoliceTransfer.id",
                                                                  back_populates="complaint")
    plan_steps: Mapped[list[PlanStep]] = relationship(order_by="PlanStep.id", back_populates="complaint")
    clearing_notices: Mapped[list[ClearingNotice]] = relationship(order_by="ClearingNotice.id",
                                                                  back_populates="complaint")
    co_handlings: Mapped[list[CoHandling]] = relationship(order_by="CoHandling.department_id",
                                                          back_populates="complaint")


class Confirmation(StrEnum):
    """Where one worker's own answer to 工资到手了吗 stands (ClaimLine.confirmation; None: never asked)."""

    ASKED = "asked"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class Satisfaction(StrEnum):
    """The worker's grade of how the closed case was handled (Complaint.satisfaction; None: not given)."""

    SATISFIED = "satisfied"  # 满意
    BASIC = "basic"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


class ClaimLine(Base):
    """One worker of a case: what they are owed and were paid, and their own answer after 办结. The phone is
    encrypted like a complainant's, and found by its keyed hash when the worker answers by SMS."""

    __tablename__ = "claim_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    worker_name: Mapped[str | None] = mapped_column(String(100))
    amount_claimed: Mapped[int | None] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # The random reference of this worker's own signed confirm link (intake.case.links), like Complaint.link_ref.
    link_ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    confirmation: Mapped[str | None] = mapped_column(String(20))
    asked_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answered_at: Mapped[datetime | None]
    answered_via: Mapped[str | None] = mapped_column(String(20))  # the channel of the answer: web, sms, wechat

    complaint: Mapped[Complaint] = relationship(back_populates="claim_lines")

    @validates("phone")
    def _hash(self, _key: str, value: str | None) -> str | None:
        self.phone_hash = None if value is None else lookup_hash(value)
        return value


class Event(Base):
    """Append-only timeline: every transition and action, who did it, when and why."""

    __tablename__ = "events"
    # One event at each place of a case's chain: two sealers appending to the same head would fail here.
    __table_args__ = (UniqueConstraint("complaint_id", "chain_index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The case's hash chain (intake.foundation.chain): the event's place in it (1 for the first), the previous
    # event's hash and this one's, all set at commit. Events written before the chain existed have none.
    chain_index: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    complaint: Mapped[Complaint] = relationship(back_populates="events")


class Attachment(Base):
    """Evidence photos, and documents staff add to a case (a PDF or image: `added_by` names who), kept in the
    database so every web process and worker sees the same files."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # The file as received, before cleaning, sealed with the data key; None when it is `content` byte for byte (a
    # PDF) or not received yet. Deferred: only evidence checks, dossiers and a staff download read it.
    original: Mapped[bytes | None] = mapped_column(EncryptedBytes, deferred=True)
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None]
    # A photo a provider holds ("wechat-media:<MediaId>"): the content is empty until the worker fetches it.
    # fetch_next_at is set only while a fetch is pending, so "fetches due" is a short range scan of its index.
    source: Mapped[str | None] = mapped_column(String(200))
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fetch_next_at: Mapped[datetime | None] = mapped_column(index=True)
    fetch_error: Mapped[str | None] = mapped_column(Text)
    # A staff document: who added it ("staff:<username>") and what it is (询问笔录 ...); None on workers' photos.
    added_by: Mapped[str | None] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="attachments")


class Timer(Base):
    """A clock as a row; a case's fires only if the complaint is still at the version it was set for. A member
    unit's task and an inspection's rectification item carry their reminders as timers too, and a warning its
    deadlines (version 0): no complaint then, the task, the item or the warning instead."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_state_due_at", "state", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    unit_task_id: Mapped[int | None] = mapped_column(ForeignKey("unit_tasks.id"), index=True)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("site_warnings.id"), index=True)
    rectification_item_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_items.id"), index=True)
    clock: Mapped[str] = mapped_column(String(30))
    due_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None]

    warning: Mapped[SiteWarning | None] = relationship()


class InboundMessage(Base):
    """Webhook deliveries, unique on the provider's id so a retried delivery is recognised, not re-run. `sender`
    is the chat user as `Conversation.user_id` has it."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_next_try_at", "state", "next_try_at"),
        # A department's console inbox (newest first, unread above the last seen id).
        Index("ix_outbox_destination_id", "destination", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    # "sms:<identity>" for a text (intake.foundation.encryption.identity), the number itself in `phone`.
    destination: Mapped[str] = mapped_column(String(200))
    # The one phone number the row or its fallbacks text, encrypted: what the SMS sender needs.
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The newest inbox row (outbox id) this user has seen: what is above it counts as unread.
    inbox_seen_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship()
    jurisdiction: Mapped[Jurisdiction | None] = relationship()


class AuditEntry(Base):
    """Who looked at or did what: every action, export and view of a worker's full phone number."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    ticket_no: Mapped[str | None] = mapped_column(String(20), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    address: Mapped[str | None] = mapped_column(String(64))


class ExportJob(Base):
    """A ledger export asked for in the console and written by the worker, off the request path, to a file that
    only its requester may download until it expires."""

    __tablename__ = "export_jobs"
    __table_args__ = (Index("ix_export_jobs_state_created_at", "state", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    file_name: Mapped[str | None] = mapped_column(String(200))
    rows: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class Conversation(Base):
    """Where one worker's chat on one channel stands, so a dialogue survives restarts and several processes.

    Every handled message bumps the version; the bump is also the lock that serialises two messages at once.
    An SMS user is their number's identity (intake.foundation.encryption.chat_user), never the number.
    """

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(20), default="idle")
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)  # intake.conversation.draft.Draft as JSON
    opted_out_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppState(Base):
    """Small facts the processes share, e.g. which clock configuration the open timers were computed with."""

    __tablename__ = "app_state"
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiClient(Base):
    """Another system (12345, the national clue platform, a department's own tool) that calls the API.

    It acts with a staff role's scope (department, county or city). Only the SHA-256 of its token is kept,
    found by the token's short public key id; an optional webhook receives every case event in its scope.
    """

    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship()


class IdempotencyKey(Base):
    """A client's Idempotency-Key on a create: unique per client, so a retry finds the first complaint."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("client_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExternalRef(Base):
    """Where a clue came from: a 12345 work order or a national-platform clue, unique per source system."""

    __tablename__ = "external_refs"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), unique=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

# --- supervision: per-case facts for figures and the ledger, entry numbers, the employer register ---------


class CaseFacts(Base):
    """What supervisors count for one complaint (clocks met or missed, the ledger's dates, the employer),
    kept in step with the timeline as events are written (intake.supervision.case_facts), so figures over a million
    cases read one narrow row each instead of every event."""

    __tablename__ = "case_facts"
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    employer: Mapped[str | None] = mapped_column(String(300), index=True)
    # None: the clock has not stopped and is not overdue; True: stopped in time; False: overdue at some point.
    acknowledged_on_time: Mapped[bool | None] = mapped_column(Boolean)
    contact_on_time: Mapped[bool | None] = mapped_column(Boolean)
    accept_on_time: Mapped[bool | None] = mapped_column(Boolean)
    reply_on_time: Mapped[bool | None] = mapped_column(Boolean)
    accepted_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    investigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    # What this case last added to daily_tallies (intake.supervision.tallies), so a change subtracts exactly that; and its
    # unit as of then, so the lists of repeated sites and employers read this table alone.
    tallied: Mapped[list | None] = mapped_column(JSON)
    received_day: Mapped[date | None] = mapped_column(Date, index=True)
    department_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    county: Mapped[str] = mapped_column(String(12), default="", server_default="")
    industry: Mapped[str] = mapped_column(String(20), default="", server_default="")
    investment: Mapped[str] = mapped_column(String(20), default="", server_default="")
    site_id: Mapped[int | None] = mapped_column(Integer)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class EntryCounter(Base):
    """The last entry number (入账号) given in a county and year; numbers only ever go up, never reused."""

    __tablename__ = "entry_counters"
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Employer(Base):
    """An employer of the register, by its name as complaints give it and its 统一社会信用代码 when known."""

    __tablename__ = "employers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    listings: Mapped[list[EmployerListing]] = relationship(order_by="EmployerListing.id", back_populates="employer")


class EmployerListing(Base):
    """A 黑名单 / 失信 listing of an employer: legal basis, date and term; drafted by one person and approved (or
    rejected) by a supervisor before it is in force; removal keeps the row."""

    __tablename__ = "employer_listings"
    id: Mapped[int] = mapped_column(primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved")  # draft | approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    listed_on: Mapped[date] = mapped_column(Date)
    term_years: Mapped[int] = mapped_column(Integer)
    ends_on: Mapped[date] = mapped_column(Date)
    listed_by: Mapped[str] = mapped_column(String(100))
    authority: Mapped[str] = mapped_column(String(200))  # the unit that decided it, as 信用中国 shows it
    removed_on: Mapped[date | None] = mapped_column(Date)
    removed_reason: Mapped[str | None] = mapped_column(Text)
    removed_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    employer: Mapped[Employer] = relationship(back_populates="listings")


# The supervisors' figures and ledger select complaints by the date they were received.
Index("ix_complaints_created_at", Complaint.created_at)


class DailyTally(Base):
    """The supervisors' counts per local day and unit, kept by intake.supervision.tallies as cases change, so a year of
    figures over a million cases sums a few thousand rows. kind "received" counts the cases received that day
    (and what became of them); kind "closed" the cases closed (销号) that day. Absent units are 0 or "", so
    every bucket is one row under the unique key."""

    __tablename__ = "daily_tallies"
    __table_args__ = (UniqueConstraint("kind", "day", "department_id", "county", "industry", "investment",
                                       name="uq_daily_tallies_bucket"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    day: Mapped[date] = mapped_column(Date)
    department_id: Mapped[int] = mapped_column(Integer)
    county: Mapped[str] = mapped_column(String(12))
    industry: Mapped[str] = mapped_column(String(20))
    investment: Mapped[str] = mapped_column(String(20))
    received: Mapped[int] = mapped_column(Integer, default=0)
    ack_met: Mapped[int] = mapped_column(Integer, default=0)
    ack_missed: Mapped[int] = mapped_column(Integer, default=0)
    accept_met: Mapped[int] = mapped_column(Integer, default=0)
    accept_missed: Mapped[int] = mapped_column(Integer, default=0)
    reply_met: Mapped[int] = mapped_column(Integer, default=0)
    reply_missed: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    fully_satisfied: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed: Mapped[int] = mapped_column(BigInteger, default=0)
    recovered: Mapped[int] = mapped_column(BigInteger, default=0)


class PaymentOrder(Base):
    """责令限期支付: an order served on an employer to pay the amount owed by a deadline. Unpaid by then it expires
    and the additional compensation (劳动保障监察条例 Art. 26) is fixed at the rate the officer chose."""

    __tablename__ = "payment_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    employer: Mapped[str] = mapped_column(String(300))
    amount: Mapped[int] = mapped_column(BigInteger)
    due_at: Mapped[datetime]
    compensation_percent: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))  # served | paid | expired
    compensation: Mapped[int | None] = mapped_column(BigInteger)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None]

    complaint: Mapped[Complaint] = relationship(back_populates="payment_orders")


class PoliceTransfer(Base):
    """移送公安: a case handed to the police (Criminal Law Art. 276-1), the police's receipt (回执) and decision
    (立案 or 不予立案 with the reason) each awaited against a clock (intake.enforcement.police)."""

    __tablename__ = "police_transfers"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    police: Mapped[str] = mapped_column(String(200))  # the receiving public security organ
    transferred_by: Mapped[str] = mapped_column(String(100))
    transferred_at: Mapped[datetime]
    receipt_due_at: Mapped[datetime]
    received_at: Mapped[datetime | None]
    receipt_note: Mapped[str | None] = mapped_column(String(500))
    decision_due_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # filed | declined
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]

    complaint: Mapped[Complaint] = relationship(back_populates="police_transfers")


class PlanStep(Base):
    """一案一策: one step of a serious case's plan, with who answers for it and by when (intake.enforcement.plans)."""

    __tablename__ = "plan_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    what: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(100))
    done_note: Mapped[str | None] = mapped_column(Text)

    complaint: Mapped[Complaint] = relationship(back_populates="plan_steps")


class ClearingNotice(Base):
    """清出建筑市场: a notice to the housing department to clear an employer out of the construction market, tracked
    until the department's reply (intake.enforcement.clearing)."""

    __tablename__ = "clearing_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    employer: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    sent_by: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[datetime]
    reply_due_at: Mapped[datetime]
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    replied_by: Mapped[str | None] = mapped_column(String(100))

    department: Mapped[Department] = relationship()
    complaint: Mapped[Complaint] = relationship(back_populates="clearing_notices")


class ConsoleSession(Base):
    """One console log-in, kept on the server so that log-out, the idle timeout and the absolute lifetime end it
    even for a copy of its cookie. The cookie carries the id; `ended_at` is set once, never cleared."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


# --- warnings (预警): the sites' payroll records and the warnings raised from them (intake.warnings) ---------


class RosterEntry(Base):
    """A worker on a site's real-name roster (实名制). The ID number is encrypted like a complainant's and found by
    its keyed hash, which is also how attendance and payouts name the worker."""

    __tablename__ = "roster_entries"
    __table_args__ = (UniqueConstraint("site_id", "id_number_hash", name="uq_roster_entries_site_worker"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(EncryptedText)
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    team: Mapped[str | None] = mapped_column(String(100))
    subcontractor: Mapped[str | None] = mapped_column(String(300))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("phone", "id_number")
    def _hash(self, key: str, value: str | None) -> str | None:
        setattr(self, f"{key}_hash", None if value is None else lookup_hash(value))
        return value


class Attendance(Base):
    """Days one worker (by ID hash) worked on a site in one month (the month's first day), with the agreed wage."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("site_id", "worker_hash", "month", name="uq_attendance_site_worker_month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    worker_hash: Mapped[str] = mapped_column(String(64))
    month: Mapped[date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    daily_wage: Mapped[int | None] = mapped_column(Integer)
    monthly_wage: Mapped[int | None] = mapped_column(Integer)


class WageAccountEntry(Base):
    """A line of the site's wage account statement (工资专用账户): a labour-cost deposit (人工费拨付) or a payroll
    payout to one worker (代发). `ref` is the bank's serial number, or a digest of the line, so a statement
    imported twice adds nothing."""

    __tablename__ = "wage_account_entries"
    __table_args__ = (UniqueConstraint("site_id", "ref", name="uq_wage_account_entries_site_ref"),
                      Index("ix_wage_account_entries_site_kind_day", "site_id", "kind", "day"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    kind: Mapped[str] = mapped_column(String(10))  # "deposit" or "payout"
    day: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)
    payer: Mapped[str | None] = mapped_column(String(300))
    worker_hash: Mapped[str | None] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(64))


# Public-opinion (舆情) warnings are recorded by staff, several at a site if need be.
WARNING_LIVE = "status <> 'cleared' AND grade <> 'opinion'"


class SiteWarning(Base):
    """A warning (预警) on a site: its indicator and grade, the figures that raised it, the department that owns it
    and, for a key warning, the rectification deadline (限期整改) after which it is escalated."""

    __tablename__ = "site_warnings"
    __table_args__ = (Index("ix_site_warnings_site_indicator_status", "site_id", "indicator", "status"),
                      Index("ix_site_warnings_status_due_at", "status", "due_at"),
                      # One live warning per site and indicator, however many workers evaluate at once.
                      Index("uq_site_warnings_live", "site_id", "indicator", unique=True,
                            sqlite_where=text(WARNING_LIVE), postgresql_where=text(WARNING_LIVE)),
                      # A public-opinion warning a client system pushed, once per the client's own reference.
                      UniqueConstraint("client_id", "client_ref", name="uq_site_warnings_client_ref"))
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    indicator: Mapped[str] = mapped_column(String(30))
    grade: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="open")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    employers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    cleared_reason: Mapped[str | None] = mapped_column(Text)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    client_ref: Mapped[str | None] = mapped_column(String(100))

    site: Mapped[Site] = relationship()
    department: Mapped[Department | None] = relationship()
    events: Mapped[list[WarningEvent]] = relationship(order_by="WarningEvent.id", back_populates="warning")


class SiteScan(Base):
    """Opens of a site's complaint form from its poster's QR link, counted per local day: a number, no one's data."""

    __tablename__ = "site_scans"
    __table_args__ = (UniqueConstraint("site_id", "day", name="uq_site_scans_site_day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PosterCheckIn(Base):
    """An inspector saw the site's poster up (张贴在位): the photo, and for this one the EXIF time and place. After
    `[privacy] check_in_photo_days` the retention sweep drops the photo and the place (photo_removed_at); the
    check-in itself stays."""

    __tablename__ = "poster_checkins"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(50))
    taken_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    photo_removed_at: Mapped[datetime | None]


class WarningEvent(Base):
    """A warning's timeline: raised, figures changed, cleared (by itself or by staff), escalated, made a case."""

    __tablename__ = "warning_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("site_warnings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    warning: Mapped[SiteWarning] = relationship(back_populates="events")


# --- member units: tasks the leading group's office gives its member units (intake.units.tasks) ---------------


class UnitTask(Base):
    """A task a supervisor gives member units (a ledger report by a date, a self-inspection, a reply to a
    circular), with one deadline for all of them."""

    __tablename__ = "unit_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(index=True)
    issued_by: Mapped[str] = mapped_column(String(80))
    # The issuer's county for a county supervisor's task, None for the city's: who else may follow it.
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignments: Mapped[list[UnitTaskAssignment]] = relationship(order_by="UnitTaskAssignment.id",
                                                                 back_populates="task")


class UnitTaskAssignment(Base):
    """One unit's part of a task: a department, or a county (answered by its supervisor); its answer and receipt."""

    __tablename__ = "unit_task_assignments"
    __table_args__ = (UniqueConstraint("task_id", "department_id", "jurisdiction_code",
                                       name="uq_unit_task_assignments_unit"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("unit_tasks.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(80))
    receipt_no: Mapped[str | None] = mapped_column(String(40), unique=True)

    task: Mapped[UnitTask] = relationship(back_populates="assignments")
    department: Mapped[Department | None] = relationship()
    jurisdiction: Mapped[Jurisdiction | None] = relationship()
    files: Mapped[list[UnitTaskFile]] = relationship(order_by="UnitTaskFile.id", back_populates="assignment")


class UnitTaskFile(Base):
    """A file a unit answered with (a stamped scan, a spreadsheet), kept as sent."""

    __tablename__ = "unit_task_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("unit_task_assignments.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignment: Mapped[UnitTaskAssignment] = relationship(back_populates="files")


class CoHandling(Base):
    """A department told to work with the handler on a case (发改 and 财政 on a government project, 国资 on an SOE
    one, supervisors on a collective case): the case is in its scope to read and to record its own steps. Its
    reply is due by `due_at` (intake.case.co_steps; None for units told before co-handlers had clocks)."""

    __tablename__ = "co_handlings"
    __table_args__ = (Index("ix_co_handlings_department_id", "department_id", "complaint_id"),)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    complaint: Mapped[Complaint] = relationship(back_populates="co_handlings")


class Inspection(Base):
    """A 督查 visit the leading group's office (or a county's supervisors) made to a county, and within it a
    department or a site, with what it found; each finding to be put right is a RectificationItem."""

    __tablename__ = "inspections"
    id: Mapped[int] = mapped_column(primary_key=True)
    inspected_on: Mapped[date] = mapped_column(Date)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    inspectors: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    jurisdiction: Mapped[Jurisdiction] = relationship()
    department: Mapped[Department | None] = relationship()
    site: Mapped[Site | None] = relationship()
    items: Mapped[list[RectificationItem]] = relationship(order_by="RectificationItem.id",
                                                          back_populates="inspection")


class RectificationItem(Base):
    """A finding to be put right (整改事项) by its owner unit (a department, or a county answered by its
    supervisor) by a deadline, and the unit's answer."""

    __tablename__ = "rectification_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    finding: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(80))

    inspection: Mapped[Inspection] = relationship(back_populates="items")
    department: Mapped[Department | None] = relationship()
    jurisdiction: Mapped[Jurisdiction | None] = relationship()


class RankingList(Base):
    """A published red and yellow list (红黄榜) of one month: the city's of counties or departments, or a county's
    of its departments. The entries are kept as published (unit, figures, score, list), so the list and its PDF
    read the same however the cases change later."""

    __tablename__ = "ranking_lists"
    __table_args__ = (UniqueConstraint("level", "period_start", "jurisdiction_code",
                                       name="uq_ranking_lists_level_period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(20))  # county | department
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # The publishing county for a county's list, None for the city's.
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    published_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class Petition(Base):
    """A petition (上访) over a case, or against a site with no case named: workers who went to a government office,
    when, where, how many. It names the department and county that answer for it (the case's handling ones at the
    time; for a site, the department that owns the site and its county), and the figures count it."""

    __tablename__ = "petitions"
    __table_args__ = (Index("ix_petitions_petitioned_at", "petitioned_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    petitioned_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    people: Mapped[int] = mapped_column(Integer)
    who: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint | None] = relationship()
    site: Mapped[Site | None] = relationship()
    department: Mapped[Department | None] = relationship()
    jurisdiction: Mapped[Jurisdiction | None] = relationship()


class CannedReply(Base):
    """A department's ready-made message to a worker (常用回复): staff pick one on a case, edit it and send it;
    placeholders such as {编号} are filled from the case (intake.case.canned)."""

    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    title: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Finding(Base):
    """摸排: hidden arrears found in an inspection, before any worker complained (intake.case.findings). A register
    of its own, not a case: it becomes one (status "case", the complaint linked) or is closed as resolved on the
    spot ("resolved", with the amount paid). `reference` is the original register's number of an imported row,
    unique per county, so importing the same file again adds nothing."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "reference", name="uq_findings_county_reference"),
                      Index("ix_findings_jurisdiction_code_status", "jurisdiction_code", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    place: Mapped[str | None] = mapped_column(String(300))  # where, when the site is not registered
    employer: Mapped[str] = mapped_column(String(300))
    amount: Mapped[int | None] = mapped_column(BigInteger)  # estimated, yuan
    workers: Mapped[int | None] = mapped_column(Integer)  # estimated
    found_by: Mapped[str] = mapped_column(String(100))
    found_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | case | resolved
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    amount_paid: Mapped[int | None] = mapped_column(BigInteger)  # resolved on the spot
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    jurisdiction: Mapped[Jurisdiction] = relationship()
    site: Mapped[Site | None] = relationship()
    complaint: Mapped[Complaint | None] = relationship()
