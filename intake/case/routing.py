"""Routing (派单): which department handles a complaint, who else must know, how urgent it is.

The rules are data: the industry -> department kind table comes from the directory file, every threshold from
RoutingSettings. Functions change state and flush; the caller commits, then starts the clocks from the
complaint's (final) priority and enqueues the co-handler notices listed in the decision.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from intake.foundation.models import (
    ClaimLine,
    CoHandling,
    CollectiveCase,
    Complainant,
    Complaint,
    Department,
    Event,
    EventKind,
    Investment,
    Priority,
    Site,
    Status,
)
from intake.foundation.settings import RoutingSettings, Settings
from intake.foundation.transitions import TransitionError, record, transition
from intake.people.access import Scope, scoped_complaints
from intake.reading.names import employer_key
from intake.registry.directory import (
    DISPATCH_DESK,
    HRSS,
    LEADING_GROUP_OFFICE,
    Departments,
    city_department,
    department,
    departments,
    industry_department_kinds,
)

ACTOR = "system:router"
# Complaints of one key still alone, linked at once: normally one (a second of the key links the first).
LOOSE_MAX = 100
ROUTABLE = frozenset({Status.RECEIVED, Status.RETURNED})
TRANSFERABLE = frozenset({Status.ROUTED, Status.ACKNOWLEDGED, Status.ACCEPTED, Status.IN_PROGRESS,
                          Status.RETURNED})
RANK = {Priority.NORMAL.value: 0, Priority.HIGH.value: 1, Priority.URGENT.value: 2}
PRIORITY_TEXT = {Priority.URGENT.value: "紧急", Priority.HIGH.value: "高", Priority.NORMAL.value: "一般"}
RISK_TEXT = {"self_harm": "扬言自伤或极端行为", "mass_incident": "聚集或群体性事件风险",
             "petition_media": "扬言上访或媒体曝光"}
INVESTMENT_TEXT = {Investment.GOVERNMENT.value: "政府投资项目", Investment.SOE.value: "国有企业项目"}
# The county departments that co-handle a site's case by its investment type (their kind is their role).
CO_HANDLER_KINDS = {Investment.GOVERNMENT.value: ("ndrc", "finance"), Investment.SOE.value: ("sasac",)}
ROLE_TEXT = {"ndrc": "政府投资项目", "finance": "政府投资项目", "sasac": "国有企业项目",
             "supervisor": "集体或高风险案件督导", "leading_group_office": "集体或高风险案件督导"}


class RoutingError(ValueError):
    """A transfer that cannot be carried out (no reason given, already with that department)."""


@dataclass(frozen=True)
class CoHandler:
    """A department told about the case without holding it; roles say why (ndrc, finance, sasac, supervisor ...)."""

    department_id: int
    roles: tuple[str, ...]
    # The rows themselves, for the route's clocks and notices (the session keeps flushed rows only weakly).
    handling: CoHandling = field(compare=False, repr=False)
    department: Department = field(compare=False, repr=False)


@dataclass(frozen=True)
class RoutingDecision:
    complaint_id: int
    department_id: int
    rule: str  # site_industry | county | dispatch_desk | returned
    reason: str
    priority: str
    priority_reasons: tuple[str, ...]
    supervised: bool
    collective_id: int | None
    co_handlers: tuple[CoHandler, ...]
    raised: tuple[int, ...]  # other linked complaints whose priority rose: their clocks may need resetting


def route_complaint(session: Session, complaint: Complaint, settings: Settings, now: datetime,
                    flush: bool = True) -> RoutingDecision:
    """Give a received (or returned) complaint to one department, link it to a collective case, set its priority.

    A returned complaint goes to the city's dispatch desk: the department that returned it said it is not
    theirs, so a person decides next (see transfer()). flush=False leaves a first route's writes to the caller's
    next flush (the worker writes the case row, its events and its notices once).
    """
    current = Status(complaint.status)
    if current not in ROUTABLE:
        raise TransitionError(f"complaint {complaint.ticket_no}: cannot route from {current.value}")
    if current is Status.RETURNED:
        return _reroute_returned(session, complaint)
    rules = settings.routing
    with session.no_autoflush:  # nothing below reads what the route wrote before it: its writes go out together
        units = _departments(session, complaint, settings)
        dept, rule, reason = _choose(complaint, settings, units)
        complaint.department = dept
        complaint.collective_key = collective_key(complaint.site_id, complaint.jurisdiction_code, complaint.claim)
        transition(session, complaint, Status.ROUTED, actor=ACTOR, note=reason,
                   data={"rule": rule, "reason": reason, "department_id": dept.id}, flush=False)
        case, joined, size = _link_collective(session, complaint, rules, now)
        headcount = size.workers if size else complaint.workers or 1
        total = size.amount if size else complaint.amount or 0
        collective = headcount >= rules.collective_workers
        flags = tuple(complaint.claim.get("risk_flags") or ())

        priority, reasons = _priority(complaint, flags, headcount, collective, rules)
        if RANK[priority] > RANK[complaint.priority]:
            complaint.priority = priority
            record(session, complaint, EventKind.PRIORITY_SET, actor=ACTOR,
                   note=f"优先级定为{PRIORITY_TEXT[priority]}：" + "；".join(reasons),
                   data={"priority": priority, "reasons": list(reasons)}, flush=False)
        # A collective's alerts fire once: when it first reaches the threshold (or a lone complaint does).
        first_alert = collective and (case is None or case.flagged_at is None)
        raised = (_flag_collective(session, case, joined, complaint, headcount, rules, now) if collective and case
                  else ())

        major = _major_reasons(complaint, flags, headcount, total, rules)
        if major:
            _supervise(session, complaint, case, joined, major)

        high_risk = bool(major) or any(f in rules.urgent_flags or f in rules.high_flags for f in flags)
        co_handlers = _notify_co_handlers(session, complaint, dept, first_alert or high_risk, rules, units)
    if flush:
        session.flush()
    return RoutingDecision(complaint_id=complaint.id, department_id=dept.id, rule=rule, reason=reason,
                           priority=complaint.priority, priority_reasons=reasons, supervised=complaint.supervised,
                           collective_id=complaint.collective_id, co_handlers=co_handlers, raised=raised)


def transfer(session: Session, complaint: Complaint, department: Department, actor: str, reason: str) -> Event:
    """A supervisor (or the dispatch desk) moves a case to another department (转办), saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise RoutingError("转办须说明原因")
    current = Status(complaint.status)
    if current not in TRANSFERABLE:
        raise TransitionError(f"complaint {complaint.ticket_no}: cannot transfer from {current.value}")
    if department.id == complaint.department_id and current is not Status.RETURNED:
        raise RoutingError(f"案件已在{department.name}，无需转办")
    before = complaint.department
    complaint.department = department
    note = f"转办：{before.name if before else '未分派'} → {department.name}。原因：{reason}"
    return transition(session, complaint, Status.ROUTED, actor=actor, kind=EventKind.TRANSFERRED, note=note,
                      data={"from_department_id": before.id if before else None,
                            "to_department_id": department.id, "reason": reason})


def _reroute_returned(session: Session, complaint: Complaint) -> RoutingDecision:
    desk = city_department(session, DISPATCH_DESK)
    returned = session.scalar(select(Event).where(Event.complaint_id == complaint.id,
                                                  Event.to_status == Status.RETURNED.value)
                              .order_by(Event.id.desc()).limit(1))
    why = returned.note if returned is not None and returned.note else "未说明原因"
    reason = f"部门退回（{why}）→ {desk.name}人工分派"
    complaint.department = desk
    transition(session, complaint, Status.ROUTED, actor=ACTOR, note=reason,
               data={"rule": "returned", "reason": reason, "department_id": desk.id})
    return RoutingDecision(complaint_id=complaint.id, department_id=desk.id, rule="returned", reason=reason,
                           priority=complaint.priority, priority_reasons=(), supervised=complaint.supervised,
                           collective_id=complaint.collective_id, co_handlers=(), raised=())


def _departments(session: Session, complaint: Complaint, settings: Settings) -> Departments:
    """Every department the route may need, in one query: the county's handlers (the site's industry department,
    labour inspection), its co-handlers (by the site's investment) and supervisors, the city's desk and office."""
    site = complaint.site
    kinds = {HRSS, settings.routing.supervisor_kind}
    if site is not None:
        kinds |= {industry_kind(site, settings), *CO_HANDLER_KINDS.get(site.investment, ())}
    return departments(session, _county(complaint), kinds, (DISPATCH_DESK, LEADING_GROUP_OFFICE))


def _county(complaint: Complaint) -> str | None:
    site = complaint.site
    return site.jurisdiction_code if site is not None else complaint.jurisdiction_code


def _choose(complaint: Complaint, settings: Settings, units: Departments) -> tuple[Department, str, str]:
    """Site -> its county's industry department; county only -> its labour inspection; nothing -> dispatch desk."""
    site = complaint.site
    if site is not None:
        dept = units.of_county(industry_kind(site, settings)) or units.of_county(HRSS)
        if dept is not None:
            return dept, "site_industry", f"工地位于{site.jurisdiction.name}，行业为{site.industry} → {dept.name}"
    if _county(complaint):
        dept = units.of_county(HRSS)
        if dept is not None:
            return dept, "county", f"工地不明，所在区县为{dept.jurisdiction.name} → {dept.name}（劳动保障监察）"
    desk = units.of_city(DISPATCH_DESK)
    return desk, "dispatch_desk", f"工地和区县均不明 → {desk.name}人工分派"


def industry_kind(site: Site, settings: Settings) -> str:
    """The kind of department that leads for the site's industry (labour inspection when none is named)."""
    return industry_department_kinds(settings.directory_file or None).get(site.industry, HRSS)


def site_department(session: Session, site: Site, settings: Settings) -> Department | None:
    """The site's county's industry department, else its labour inspection: who owns what happens at a site."""
    return (department(session, site.jurisdiction_code, industry_kind(site, settings))
            or department(session, site.jurisdiction_code, HRSS))



@dataclass(frozen=True)
class CollectiveSize:
    """A collective case at a glance: its complaints, workers (a complaint without a count is one) and amount."""

    complaints: int
    workers: int
    amount: int


def collective_key(site_id: int | None, county: str | None, claim: dict | None) -> str | None:
    """What links complaints into one collective case: the site, or (without a site) the county and the
    employer the worker named, normalised (intake.reading.names); None when neither is known (a role word such
    as 老板 names nobody)."""
    if site_id is not None:
        return f"site:{site_id}"
    name = (claim or {}).get("employer")
    key = employer_key(name) if isinstance(name, str) else None
    return f"employer:{county}:{key}" if key and county else None


@dataclass(frozen=True)
class CollectiveView:
    """A collective as staff and client systems see it: its size over every member, the members they may see."""

    id: int
    size: CollectiveSize
    members: list[Complaint]


def collective_view(session: Session, scope: Scope, complaint: Complaint) -> CollectiveView | None:
    if complaint.collective_id is None:
        return None
    members = list(session.scalars(scoped_complaints(scope).where(Complaint.collective_id == complaint.collective_id)
                                   .order_by(Complaint.id)))
    return CollectiveView(complaint.collective_id, collective_size(session, complaint.collective_id), members)


def collective_size(session: Session, collective_id: int) -> CollectiveSize:
    return CollectiveSize(*session.execute(_SIZE, {"collective_id": collective_id}).one())


def _size_columns(member: type[Complaint]) -> tuple[ColumnElement[int], ...]:
    """A collective's complaints, workers (a complaint without a count is one) and amount, over its members."""
    return (func.count(), func.coalesce(func.sum(func.coalesce(member.workers, 1)), 0),
            func.coalesce(func.sum(member.amount), 0))


def _size_of(collective: ColumnElement[int]) -> tuple[ScalarSelect, ...]:
    """The collective's size as stored, one column a figure."""
    member = aliased(Complaint)
    return tuple(select(column).where(member.collective_id == collective).scalar_subquery()
                 for column in _size_columns(member))


def _linkable_query() -> Select:
    """The key's open complaints in the window (but the one being routed): the latest one linked, with its
    collective and that collective's size as stored, first; then those still alone."""
    linkable = (Complaint.collective_key == bindparam("key"), Complaint.created_at >= bindparam("since"),
                Complaint.id != bindparam("complaint_id"),
                Complaint.status.not_in((Status.RECEIVED.value, Status.CLOSED.value)))
    latest_linked = (select(Complaint.id).where(*linkable, Complaint.collective_id.is_not(None))
                     .order_by(Complaint.created_at.desc()).limit(1).correlate(None).scalar_subquery())
    return (select(Complaint, CollectiveCase, *_size_of(CollectiveCase.id))
            .outerjoin(CollectiveCase, CollectiveCase.id == Complaint.collective_id)
            .where(*linkable, or_(Complaint.collective_id.is_(None), Complaint.id == latest_linked))
            .order_by(Complaint.collective_id.is_(None), Complaint.created_at, Complaint.id).limit(LOOSE_MAX)
            .execution_options(populate_existing=True))


# Built once: every route runs them.
_CLAIM_LINES = insert(ClaimLine.__table__).from_select(
    ["complaint_id", "worker_name", "amount_claimed", "amount_paid", "phone", "phone_hash"],
    # the complainant's phone as stored: the same data key's token, and its lookup hash
    select(Complaint.id, Complainant.name, Complaint.amount, literal(0), Complainant.phone, Complainant.phone_hash)
    .join(Complainant, Complainant.id == Complaint.complainant_id)
    .where(Complaint.id.in_(bindparam("complaint_ids", expanding=True)),
           ~exists().where(ClaimLine.complaint_id == Complaint.id)))
_SIZE = select(*_size_columns(Complaint)).where(Complaint.collective_id == bindparam("collective_id"))
_LINKABLE = _linkable_query()
_UNSUPERVISED = select(Complaint).where(Complaint.collective_id == bindparam("collective_id"),
                                       Complaint.id.not_in(bindparam("group", expanding=True)),
                                       Complaint.status != Status.CLOSED.value, Complaint.supervised.is_(False))
_KEY_LOCK = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("key", type_=String), 0)))


def _link_collective(session: Session, complaint: Complaint, rules: RoutingSettings,
                     now: datetime) -> tuple[CollectiveCase | None, list[Complaint], CollectiveSize | None]:
    """Link the complaint to the open complaints of its key within the window: the collective they already
    form, or a new one with the one (or few) still alone. Returns the case, the complaints linked now and the
    collective's size with them (their rows are not written yet).

    One indexed look-up on the key, whatever the county's volume; closed complaints are never pulled in. On
    PostgreSQL a transaction-level advisory lock on the key serialises two routers of one key (so they cannot
    both open a collective) without touching any row a new complaint's insert needs; SQLite has one writer.
    """
    key = complaint.collective_key
    if complaint.collective_id is not None:
        return (session.get(CollectiveCase, complaint.collective_id), [],
                collective_size(session, complaint.collective_id))
    if key is None:
        return None, [], None
    case, alone, stored = _linkable(session, complaint, key, now - timedelta(days=rules.collective_window_days))
    if case is None and not alone:
        return None, [], None
    if case is None:
        named = "".join(alone[0].claim["employer"].split()) if complaint.site_id is None else None
        case = CollectiveCase(site_id=complaint.site_id, employer=named, lead_department_id=alone[0].department_id)
        session.add(case)
        session.flush()
    joining = [*alone, complaint]
    link(session, case, joining, actor=ACTOR)
    # The members as stored (none of those joining, which were alone) and those joining.
    return case, joining, CollectiveSize(
        complaints=stored.complaints + len(joining),
        workers=stored.workers + sum(1 if c.workers is None else c.workers for c in joining),
        amount=stored.amount + sum(c.amount or 0 for c in joining))


def _linkable(session: Session, complaint: Complaint, key: str,
              since: datetime) -> tuple[CollectiveCase | None, list[Complaint], CollectiveSize]:
    """The collective the key's open complaints in the window already form (and its size as stored), and those
    still alone."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_KEY_LOCK, {"key": key})
    found = session.execute(_LINKABLE, {"key": key, "since": since, "complaint_id": complaint.id}).all()
    linked = found[0] if found and found[0][1] is not None else None
    stored = CollectiveSize(*linked[2:]) if linked else CollectiveSize(0, 0, 0)
    return (linked[1] if linked else None), [c for c, case, *_size in found if case is None], stored


def link(session: Session, case: CollectiveCase, joining: list[Complaint], *, actor: str, why: str = "") -> None:
    """Put complaints into a collective case, each with a claim line for its worker (one written in the same
    statement for those without) and a timeline entry; the complaints' rows and events wait for the caller's
    flush (the route writes its case row once)."""
    lead = session.get(Department, case.lead_department_id) if case.lead_department_id else None
    where = why or ("同一工地" if case.site_id is not None else f"同一用工单位（{case.employer}）")
    session.execute(_CLAIM_LINES, {"complaint_ids": [c.id for c in joining]})
    for c in joining:
        c.collective_id = case.id
        record(session, c, EventKind.COLLECTIVE_LINKED, actor=actor,
               note=f"与{where}的其他投诉合并为集体欠薪案件（编号{case.id}），牵头部门：{lead.name if lead else '待定'}",
               data={"collective_id": case.id, "lead_department_id": case.lead_department_id}, flush=False)


def merge(session: Session, complaint: Complaint, other: Complaint, *, actor: str, reason: str) -> CollectiveCase:
    """Staff put two complaints in one collective case by hand (并案): the other's collective (or the
    complaint's, or a new one) takes in both and every member of the complaint's former collective."""
    reason = _reason(reason, "合并")
    if other.id == complaint.id:
        raise RoutingError("不能与本案自身合并")
    if other.status in (Status.CLOSED.value, Status.RECEIVED.value):
        raise RoutingError(f"投诉{other.ticket_no}已销号或尚未派单，不能合并")
    if other.collective_id is not None and other.collective_id == complaint.collective_id:
        raise RoutingError(f"两件投诉已在同一集体案件（编号{other.collective_id}）")
    target_id = other.collective_id or complaint.collective_id
    if target_id is None:
        case = CollectiveCase(site_id=other.site_id if other.site_id == complaint.site_id else None,
                              lead_department_id=other.department_id)
        session.add(case)
        session.flush()
    else:
        case = session.get(CollectiveCase, target_id)
    moving = [c for c in (complaint, other) if c.collective_id is None]
    for source in {c.collective_id for c in (complaint, other)} - {None, case.id}:
        moving += session.scalars(select(Complaint).where(Complaint.collective_id == source).order_by(Complaint.id))
    # Where each moved complaint was, under one key for the whole merge, so that `unmerge` can put them all back.
    origins, key = {str(c.id): c.collective_id for c in moving}, uuid.uuid4().hex
    for c in moving:
        c.collective_id = case.id
        record(session, c, EventKind.COLLECTIVE_MERGED, actor=actor,
               note=f"人工并入集体欠薪案件（编号{case.id}）。原因：{reason}",
               data={"collective_id": case.id, "with": other.ticket_no, "reason": reason, "merge": key,
                     "origins": origins}, flush=False)
    session.flush()
    return case


def last_merge(complaint: Complaint) -> Event | None:
    """The complaint's latest manual merge, while it is not undone and the complaint still sits where it put it.
    Only the latest can be undone, so a second click of the undo finds nothing to undo rather than an earlier
    merge."""
    merged = next((e for e in reversed(complaint.events) if e.kind == EventKind.COLLECTIVE_MERGED), None)
    if merged is None or "merge" not in merged.data or complaint.collective_id != merged.data["collective_id"]:
        return None
    undone = any(e.kind == EventKind.COLLECTIVE_UNMERGED and e.data.get("merge") == merged.data["merge"]
                 for e in complaint.events)
    return None if undone else merged


def unmerge(session: Session, complaint: Complaint, *, actor: str, reason: str) -> None:
    """撤销并案: undo the complaint's latest manual merge. Every complaint that merge moved and that is still in
    the collective it was moved to goes back to the collective it came from (or to none); one taken out or moved
    on since stays where it is now. The collective's counts follow from its members."""
    reason = _reason(reason, "撤销并案")
    merged = last_merge(complaint)
    if merged is None:
        raise RoutingError("本案没有可以撤销的人工并案（已撤销，或已移出该集体案件）")
    into, origins = merged.data["collective_id"], merged.data["origins"]
    back = session.scalars(select(Complaint).where(Complaint.id.in_([int(i) for i in origins]),
                                                   Complaint.collective_id == into).order_by(Complaint.id))
    for c in back:
        c.collective_id = origins[str(c.id)]
        where = f"集体欠薪案件（编号{c.collective_id}）" if c.collective_id else "单独办理"
        record(session, c, EventKind.COLLECTIVE_UNMERGED, actor=actor,
               note=f"撤销并入集体欠薪案件（编号{into}），恢复{where}。原因：{reason}",
               data={"merge": merged.data["merge"], "collective_id": into, "back_to": c.collective_id,
                     "reason": reason}, flush=False)
    session.flush()


def split(session: Session, complaint: Complaint, *, actor: str, reason: str) -> None:
    """Staff take a complaint out of its collective case (拆案); it is not linked again automatically. A
    collective left with one complaint is dissolved."""
    reason = _reason(reason, "移出")
    if complaint.collective_id is None:
        raise RoutingError("本案不在集体欠薪案件中")
    case_id = complaint.collective_id
    leaving = [complaint]
    rest = list(session.scalars(select(Complaint).where(Complaint.collective_id == case_id,
                                                        Complaint.id != complaint.id)))
    if len(rest) == 1:
        leaving += rest
    for c in leaving:
        c.collective_id = None
        record(session, c, EventKind.COLLECTIVE_SPLIT, actor=actor,
               note=f"移出集体欠薪案件（编号{case_id}）。原因：{reason}", data={"collective_id": case_id, "reason": reason},
               flush=False)
    complaint.collective_key = None
    session.flush()


def _reason(reason: str | None, verb: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RoutingError(f"{verb}须说明原因")
    return reason


def _priority(complaint: Complaint, flags: tuple[str, ...], headcount: int, collective: bool,
              rules: RoutingSettings) -> tuple[str, tuple[str, ...]]:
    """The highest priority any configured rule gives, with every reason that gave it."""
    found: list[tuple[str, str]] = []
    for flag in flags:
        if flag in rules.urgent_flags:
            found.append((Priority.URGENT.value, f"风险：{RISK_TEXT.get(flag, flag)}"))
        elif flag in rules.high_flags:
            found.append((Priority.HIGH.value, f"风险：{RISK_TEXT.get(flag, flag)}"))
    if (complaint.workers or 0) >= rules.high_workers:
        found.append((Priority.HIGH.value, f"人数{complaint.workers}人"))
    if (complaint.amount or 0) >= rules.high_amount:
        found.append((Priority.HIGH.value, f"金额{complaint.amount}元"))
    site = complaint.site
    if site is not None and site.investment in rules.high_investments:
        found.append((Priority.HIGH.value, INVESTMENT_TEXT.get(site.investment, site.investment)))
    if collective:
        found.append((Priority.HIGH.value, f"集体欠薪（共{headcount}人）"))
    if not found:
        return Priority.NORMAL.value, ()
    top = max(RANK[p] for p, _ in found)
    return next(p for p, _ in found if RANK[p] == top), tuple(r for p, r in found if RANK[p] == top)


def _major_reasons(complaint: Complaint, flags: tuple[str, ...], headcount: int, total: int,
                   rules: RoutingSettings) -> tuple[str, ...]:
    """Why the case (or its collective) is major enough for 挂牌督办; empty when it is not."""
    reasons = [f"风险：{RISK_TEXT.get(f, f)}" for f in flags if f in rules.major_flags]
    if max(headcount, complaint.workers or 0) >= rules.major_workers:
        reasons.append(f"涉及{max(headcount, complaint.workers or 0)}人")
    if max(total, complaint.amount or 0) >= rules.major_amount:
        reasons.append(f"金额{max(total, complaint.amount or 0)}元")
    return tuple(reasons)


def _flag_collective(session: Session, case: CollectiveCase, joined: list[Complaint], complaint: Complaint,
                     headcount: int, rules: RoutingSettings, now: datetime) -> tuple[int, ...]:
    """Mark complaints as part of a collective case once, raising each to at least high: every open member when
    the collective first reaches the threshold, afterwards only those joining it."""
    if case.flagged_at is None:
        case.flagged_at = now
        session.flush()  # the members include those linked now
        group = list(session.scalars(select(Complaint).where(Complaint.collective_id == case.id,
                                                             Complaint.status != Status.CLOSED.value)))
    else:
        group = joined
    raised = []
    # The complaint being routed was never in a collective before, so never flagged: only the others are looked up.
    others = [c.id for c in group if c is not complaint]
    flagged = set(session.scalars(select(Event.complaint_id).where(
        Event.complaint_id.in_(others), Event.kind == EventKind.COLLECTIVE_FLAGGED))) if others else set()
    for c in group:
        if c.id in flagged:
            continue
        data = {"collective_id": c.collective_id, "workers": headcount}
        if RANK[c.priority] < RANK[Priority.HIGH.value]:
            c.priority = Priority.HIGH.value
            data["priority"] = c.priority
            if c is not complaint:
                raised.append(c.id)
        record(session, c, EventKind.COLLECTIVE_FLAGGED, actor=ACTOR,
               note=f"集体欠薪：关联投诉共{headcount}人，达到{rules.collective_workers}人标准，优先级至少为高",
               data=data, flush=False)
    return tuple(raised)


def _supervise(session: Session, complaint: Complaint, case: CollectiveCase | None, joined: list[Complaint],
               major: tuple[str, ...]) -> None:
    """挂牌督办 for the complaint and the open members of its collective not yet supervised: those linked now
    (open, and maybe not written yet), then the others as stored."""
    group = [complaint, *(c for c in joined if c is not complaint)]
    if case is not None:
        group += session.scalars(_UNSUPERVISED, {"collective_id": case.id, "group": [c.id for c in group]})
    for c in group:
        if not c.supervised:
            c.supervised = True
            record(session, c, EventKind.SUPERVISED, actor=ACTOR, note="挂牌督办：" + "；".join(major),
                   data={"reasons": list(major)}, flush=False)


def _notify_co_handlers(session: Session, complaint: Complaint, handler: Department, alert: bool,
                        rules: RoutingSettings, units: Departments) -> tuple[CoHandler, ...]:
    """Record which departments must be told (发改/财政, 国资, supervisors) and give them the case to co-handle;
    the notification layer sends."""
    site = complaint.site
    wanted: list[tuple[Department | None, str]] = [
        (units.of_county(kind), kind) for kind in (CO_HANDLER_KINDS.get(site.investment, ()) if site else ())]
    if alert:
        if _county(complaint):
            wanted.append((units.of_county(rules.supervisor_kind), "supervisor"))
        wanted.append((units.of_city(LEADING_GROUP_OFFICE), "leading_group_office"))
    roles: dict[int, list[str]] = {}
    depts: dict[int, Department] = {}
    for dept, role in wanted:
        if dept is not None and dept.id != handler.id:
            roles.setdefault(dept.id, []).append(role)
            depts[dept.id] = dept
    found = []
    for dept_id, dept_roles in roles.items():
        why = "、".join(dict.fromkeys(ROLE_TEXT[r] for r in dept_roles))
        # A case is routed from `received` once (a returned one goes to the desk), so it has no co-handler yet.
        handling = CoHandling(complaint=complaint, department_id=dept_id, roles=dept_roles)
        session.add(handling)
        record(session, complaint, EventKind.CO_HANDLER_NOTIFIED, actor=ACTOR,
               note=f"通知协办：{depts[dept_id].name}（{why}）",
               data={"department_id": dept_id, "roles": dept_roles, "handler_department_id": handler.id},
               flush=False)
        found.append(CoHandler(department_id=dept_id, roles=tuple(dept_roles), handling=handling,
                               department=depts[dept_id]))
    return tuple(found)
