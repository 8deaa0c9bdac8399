"""The employer register: employers as complaints name them (or their sites' general contractors), their
complaints and sites, and the 黑名单 / 失信 listings supervisors record for joint punishment.

An employer is known by its name with the spaces taken out (what workers type varies in spacing only, the
rest is left alone); a role word (老板, 包工头 ..., `intake.reading.names`) is never an employer; its 统一社会信用代码 is added when a supervisor knows it. Listings carry their legal
basis, date and term (3 years by default, 人社部令第45号) and are removed, never deleted, so the history stays.
A listing made in the console is a draft until a supervisor other than its drafter approves it (it runs from the
day of approval) or rejects it with a reason; only approved listings are in force (`in_force`, `in_force_clause`).
The credit CSV lists the listings in force for pushing to 信用中国 (山东临沂); it names employers only, never a
worker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, selectinload

from intake.foundation.calendar import add_years
from intake.foundation.models import CaseFacts, Complaint, Employer, EmployerListing, Status, utcnow
from intake.people.access import Scope
from intake.reading.names import is_named

NAME_MAX = 300
DEFAULT_TERM_YEARS = 3
LISTING_KINDS = {"blacklist": "拖欠农民工工资失信联合惩戒对象名单（黑名单）",
                 "dishonest": "拖欠农民工工资重点关注名单"}
DRAFT, APPROVED, REJECTED = "draft", "approved", "rejected"
CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_HEADER = ("失信主体名称", "统一社会信用代码", "列入名单类别", "列入依据", "列入日期", "期限（年）", "届满日期",
                 "认定部门")


class RegisterError(ValueError):
    """A register change the rules do not allow (message for staff, in Chinese)."""


@dataclass(frozen=True)
class EmployerSummary:
    name: str
    complaints: int
    open: int
    sites: int
    amount: int
    last_at: datetime
    credit_code: str | None
    listed: bool


def normalise_name(text: str | None) -> str | None:
    name = "".join((text or "").split())[:NAME_MAX]
    return name or None


def check_credit_code(code: str) -> str:
    """A 统一社会信用代码 (GB 32100-2015: 18 characters, the last a check character)."""
    code = (code or "").strip().upper()
    if not CREDIT_CODE.fullmatch(code):
        raise RegisterError("统一社会信用代码应为18位数字或大写字母")
    total = sum(_CODE_CHARS.index(c) * w for c, w in zip(code[:17], _CODE_WEIGHTS))
    if _CODE_CHARS[(31 - total % 31) % 31] != code[17]:
        raise RegisterError("统一社会信用代码校验位不正确，请核对")
    return code


def register(session: Session, scope: Scope, today: date, query: str = "", limit: int = 200) -> list[EmployerSummary]:
    """Employers of the complaints in scope, most complained-about first."""
    open_ = func.count().filter(Complaint.status.not_in((Status.CLOSED.value, Status.DUPLICATE.value)))
    rows = session.execute(
        select(CaseFacts.employer, func.count(), open_, func.count(func.distinct(Complaint.site_id)),
               func.coalesce(func.sum(Complaint.amount), 0), func.max(Complaint.created_at))
        .join(Complaint, Complaint.id == CaseFacts.complaint_id)
        .where(scope.complaints(), CaseFacts.employer.is_not(None),
               *([CaseFacts.employer.contains(normalise_name(query), autoescape=True)] if normalise_name(query) else []))
        .group_by(CaseFacts.employer).order_by(func.count().desc(), CaseFacts.employer).limit(limit)).all()
    known = {e.name: e for e in session.scalars(select(Employer).where(Employer.name.in_([r[0] for r in rows]))
                                                .options(selectinload(Employer.listings)))}
    return [EmployerSummary(name, n, o, s, amount, last, known[name].credit_code if name in known else None,
                            name in known and any(in_force(li, today) for li in known[name].listings))
            for name, n, o, s, amount, last in rows]


def complaints_of(session: Session, scope: Scope, name: str) -> list[Complaint]:
    """The employer's complaints in scope, newest first, with their sites."""
    return list(session.scalars(
        select(Complaint).join(CaseFacts, CaseFacts.complaint_id == Complaint.id)
        .where(scope.complaints(), CaseFacts.employer == normalise_name(name))
        .order_by(Complaint.created_at.desc()).limit(500).options(selectinload(Complaint.site))))


def employer(session: Session, name: str) -> Employer | None:
    return session.scalar(select(Employer).where(Employer.name == normalise_name(name))
                          .options(selectinload(Employer.listings)))


def _employer_for(session: Session, name: str) -> Employer:
    found = employer(session, name)
    if found is None:
        name = normalise_name(name)
        if name is None:
            raise RegisterError("请填写用工单位名称")
        if not is_named(name):
            raise RegisterError(f"“{name}”是称呼而不是单位名称，请填写具体的单位或个人名称")
        found = Employer(name=name)
        session.add(found)
        session.flush()
    return found


def set_credit_code(session: Session, name: str, code: str) -> Employer:
    found = _employer_for(session, name)
    code = check_credit_code(code)
    other = session.scalar(select(Employer).where(Employer.credit_code == code, Employer.id != found.id))
    if other is not None:
        raise RegisterError(f"该统一社会信用代码已登记为“{other.name}”")
    found.credit_code = code
    session.flush()
    return found


def in_force(listing: EmployerListing, today: date) -> bool:
    return listing.state == APPROVED and listing.removed_on is None and listing.ends_on >= today


def in_force_clause(today: date) -> ColumnElement[bool]:
    """`in_force` as SQL, for queries over many listings."""
    return and_(EmployerListing.state == APPROVED, EmployerListing.removed_on.is_(None),
                EmployerListing.ends_on >= today)


def list_employer(session: Session, name: str, *, kind: str, basis: str, listed_on: date,
                  term_years: int = DEFAULT_TERM_YEARS, actor: str, authority: str,
                  draft: bool = False) -> EmployerListing:
    """Record a listing (a draft awaiting `decide_listing`, or one in force); one in force or drafted per kind."""
    if kind not in LISTING_KINDS:
        raise RegisterError("请选择名单类别")
    basis = (basis or "").strip()
    if not basis:
        raise RegisterError("请填写列入依据（文书名称和文号）")
    if not 1 <= term_years <= 10:
        raise RegisterError("期限应为1至10年")
    found = _employer_for(session, name)
    if any(li.kind == kind and in_force(li, listed_on) for li in found.listings):
        raise RegisterError(f"该单位已在{LISTING_KINDS[kind]}中")
    if any(li.kind == kind and li.state == DRAFT for li in found.listings):
        raise RegisterError(f"该单位列入{LISTING_KINDS[kind]}的申请正在等待审批")
    listing = EmployerListing(employer_id=found.id, kind=kind, basis=basis[:2000], listed_on=listed_on,
                              term_years=term_years, ends_on=add_years(listed_on, term_years), listed_by=actor,
                              authority=authority, state=DRAFT if draft else APPROVED)
    session.add(listing)
    session.flush()
    session.refresh(found, ["listings"])
    return listing


def decide_listing(session: Session, listing_id: int, *, approve: bool, note: str, today: date,
                   actor: str) -> EmployerListing:
    """Approve a draft (in force from today for its term) or reject it with a reason; never by its drafter."""
    listing = session.get(EmployerListing, listing_id)
    if listing is None or listing.state != DRAFT:
        raise RegisterError("没有这条待审批的列入申请")
    if listing.listed_by == actor:
        raise RegisterError("列入申请须由另一位督办人员审批")
    note = (note or "").strip()
    if not approve and not note:
        raise RegisterError("不同意列入的，请填写理由")
    if approve:
        listing.listed_on, listing.ends_on = today, add_years(today, listing.term_years)
    listing.state = APPROVED if approve else REJECTED
    listing.decided_by, listing.decided_at, listing.decision_note = actor, utcnow(), note[:2000] or None
    session.flush()
    return listing


def remove_listing(session: Session, listing_id: int, *, reason: str, removed_on: date, actor: str) -> EmployerListing:
    """移出名单 (e.g. after correction, or at the end of the term); the row stays with who and why."""
    listing = session.get(EmployerListing, listing_id)
    if listing is None or listing.removed_on is not None or listing.state != APPROVED:
        raise RegisterError("没有这条在册记录")
    reason = (reason or "").strip()
    if not reason:
        raise RegisterError("请填写移出理由")
    listing.removed_on, listing.removed_reason, listing.removed_by = removed_on, reason[:2000], actor
    session.flush()
    return listing


def credit_rows(session: Session, today: date):
    """The listings in force, one row each, for 信用中国."""
    rows = session.execute(select(EmployerListing, Employer).join(Employer).where(in_force_clause(today))
                           .order_by(EmployerListing.listed_on, EmployerListing.id))
    for listing, found in rows:
        yield (found.name, found.credit_code or "", LISTING_KINDS[listing.kind], listing.basis,
               listing.listed_on.isoformat(), listing.term_years, listing.ends_on.isoformat(), listing.authority)
