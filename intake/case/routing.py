"""Routing (派单): which department handles a complaint, who else must know, how urgent it is.

The rules are data: the industry -> department kind table comes from the directory file, every threshold from
RoutingSettings. Functions change state and flush; the caller commits, then starts the clocks from the
complaint's (final) priority and enqueues the co-handler notices listed in the decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.foundation.models import (
    ClaimLine,
    CoHandling,
    CollectiveCase,
    Complaint,
    Department,
    Event,
    EventKind,
    Investment,
    Jurisdiction,
    Priority,
    Site,
    Status,
)
from intake.foundation.settings import RoutingSettings, Settings
from intake.foundation.transitions import TransitionError, record, transition
from intake.registry.directory import (
    DISPATCH_DESK,
    HRSS,
    LEADING_GROUP_OFFICE,
    city_department,
    department,
    industry_department_kinds,
)

ACTOR = "system:router"
ROUTABLE = frozenset({Status.RECEIVED, Status.RETURNED})
TRANSFERABLE = frozenset({Status.ROUTED, Status.ACKNOWLEDGED, Status.ACCEPTED, Status.IN_PROGRESS,
                          Status.RETURNED})
RANK = {Priority.NORMAL.value: 0, Priority.HIGH.value: 1, Priority.URGENT.value: 2}
PRIORITY_TEXT = {Priority.URGENT.value: "紧急", Priority.HIGH.value: "高", Priority.NORMAL.value: "一般"}
RISK_TEXT = {"self_harm": "扬言自伤或极端行为", "mass_incident": "聚集或群体性事件风险",
             "petition_media": "扬言上访或媒体曝光"}
INVESTMENT_TEXT = {Investment.GOVERNMENT.value: "政府投资项目", Investment.SOE.value: "国有企业项目"}
ROLE_TEXT = {"ndrc": "政府投资项目", "finance": "政府投资项目", "sasac": "国有企业项目",
             "supervisor": "集体或高风险案件督导", "leading_group_office": "集体或高风险案件督导"}


class RoutingError(ValueError):
    """A transfer that cannot be carried out (no reason given, already with that department)."""


@dataclass(frozen=True)
class CoHandler:
    """A department told about the case without holding it; roles say why (ndrc, finance, sasac, supervisor ...)."""

    department_id: int
    roles: tuple[str, ...]


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


def route_complaint(session: Session, complaint: Complaint, settings: Settings, now: datetime) -> RoutingDecision:
    """Give a received (or returned) complaint to one department, link it to a collective case, set its priority.

    A returned complaint goes to the city's dispatch desk: the department that returned it said it is not
    theirs, so a person decides next (see transfer()).
    """
    current = Status(complaint.status)
    if current not in ROUTABLE:
        raise TransitionError(f"complaint {complaint.ticket_no}: cannot route from {current.value}")
    if current is Status.RETURNED:
        return _reroute_returned(session, complaint)
    rules = settings.routing
    dept, rule, reason = _choose(session, complaint, settings)
    complaint.department = dept
    # The status write comes first: on SQLite it takes the database's write lock before the collective look-up.
    transition(session, complaint, Status.ROUTED, actor=ACTOR, note=reason,
               data={"rule": rule, "reason": reason, "department_id": dept.id})
    members = _link_collective(session, complaint, rules, now)
    group = members or [complaint]
    headcount = sum(c.workers or 1 for c in group)
    total = sum(c.amount or 0 for c in group)
    collective = headcount >= rules.collective_workers
    flags = tuple(complaint.claim.get("risk_flags") or ())

    priority, reasons = _priority(complaint, flags, headcount, collective, rules)
    if RANK[priority] > RANK[complaint.priority]:
        complaint.priority = priority
        record(session, complaint, EventKind.PRIORITY_SET, actor=ACTOR,
               note=f"优先级定为{PRIORITY_TEXT[priority]}：" + "；".join(reasons),
               data={"priority": priority, "reasons": list(reasons)})
    raised = _flag_collective(session, group, complaint, headcount, rules) if collective and members else ()

    major = _major_reasons(complaint, flags, headcount, total, rules)
    for c in group:
        if major and not c.supervised:
            c.supervised = True
            record(session, c, EventKind.SUPERVISED, actor=ACTOR, note="挂牌督办：" + "；".join(major),
                   data={"reasons": list(major)})

    high_risk = bool(major) or any(f in rules.urgent_flags or f in rules.high_flags for f in flags)
    co_handlers = _notify_co_handlers(session, complaint, dept, collective or high_risk, rules)
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


def _choose(session: Session, complaint: Complaint, settings: Settings) -> tuple[Department, str, str]:
    """Site -> its county's industry department; county only -> its labour inspection; nothing -> dispatch desk."""
    site = complaint.site
    if site is not None:
        county = site.jurisdiction
        kind = industry_department_kinds(settings.directory_file or None).get(site.industry, HRSS)
        dept = department(session, county.code, kind) or department(session, county.code, HRSS)
        if dept is not None:
            return dept, "site_industry", f"工地位于{county.name}，行业为{site.industry} → {dept.name}"
    code = site.jurisdiction_code if site is not None else complaint.jurisdiction_code
    if code:
        dept = department(session, code, HRSS)
        if dept is not None:
            return dept, "county", f"工地不明，所在区县为{dept.jurisdiction.name} → {dept.name}（劳动保障监察）"
    desk = city_department(session, DISPATCH_DESK)
    return desk, "dispatch_desk", f"工地和区县均不明 → {desk.name}人工分派"


def _link_collective(session: Session, complaint: Complaint, rules: RoutingSettings,
                     now: datetime) -> list[Complaint]:
    """Link complaints on one site (or one employer in one county, without a site) within the window.

    Returns the collective's members, or [] when the complaint stands alone. A row lock on the site (or the
    county) serialises two routers on PostgreSQL, so they cannot both open a collective; SQLite has one writer.
    """
    since = now - timedelta(days=rules.collective_window_days)
    query = select(Complaint).where(Complaint.id != complaint.id, Complaint.created_at >= since,
                                    Complaint.status != Status.RECEIVED.value)
    employer = _employer(complaint)
    if complaint.site_id is not None:
        session.execute(select(Site.id).where(Site.id == complaint.site_id).with_for_update())
        query = query.where(Complaint.site_id == complaint.site_id)
    elif employer and complaint.jurisdiction_code:
        session.execute(select(Jurisdiction.code).where(Jurisdiction.code == complaint.jurisdiction_code)
                        .with_for_update())
        query = query.where(Complaint.site_id.is_(None), Complaint.jurisdiction_code == complaint.jurisdiction_code)
    else:
        return []
    candidates = session.scalars(query.order_by(Complaint.created_at, Complaint.id)
                                 .options(selectinload(Complaint.complainant))
                                 .execution_options(populate_existing=True)).all()
    if complaint.site_id is None:
        candidates = [c for c in candidates if _employer(c) == employer]
    if not candidates:
        return []
    linked = sorted({c.collective_id for c in candidates if c.collective_id is not None})
    if linked:
        case = session.get(CollectiveCase, linked[0])
    else:
        case = CollectiveCase(site_id=complaint.site_id, employer=employer,
                              lead_department_id=candidates[0].department_id)
        session.add(case)
        session.flush()
    lead = session.get(Department, case.lead_department_id) if case.lead_department_id else None
    where = "同一工地" if complaint.site_id is not None else f"同一用工单位（{employer}）"
    joining = [c for c in [*candidates, complaint] if c.collective_id is None]
    with_lines = set(session.scalars(select(ClaimLine.complaint_id)
                                     .where(ClaimLine.complaint_id.in_([c.id for c in joining]))))
    for c in joining:
        c.collective_id = case.id
        if c.id not in with_lines:
            session.add(ClaimLine(complaint_id=c.id, worker_name=c.complainant.name, amount_claimed=c.amount))
        record(session, c, EventKind.COLLECTIVE_LINKED, actor=ACTOR,
               note=f"与{where}的其他投诉合并为集体欠薪案件（编号{case.id}），牵头部门：{lead.name if lead else '待定'}",
               data={"collective_id": case.id, "lead_department_id": case.lead_department_id})
    session.flush()
    return list(session.scalars(select(Complaint).where(Complaint.collective_id == case.id).order_by(Complaint.id)))


def _employer(complaint: Complaint) -> str | None:
    name = (complaint.claim or {}).get("employer")
    if not isinstance(name, str):
        return None
    return "".join(name.split()) or None


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


def _flag_collective(session: Session, group: list[Complaint], complaint: Complaint, headcount: int,
                     rules: RoutingSettings) -> tuple[int, ...]:
    """Mark every linked complaint as part of a collective case once, raising it to at least high."""
    raised = []
    flagged = set(session.scalars(select(Event.complaint_id).where(
        Event.complaint_id.in_([c.id for c in group]), Event.kind == EventKind.COLLECTIVE_FLAGGED)))
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
               data=data)
    return tuple(raised)


def _notify_co_handlers(session: Session, complaint: Complaint, handler: Department, alert: bool,
                        rules: RoutingSettings) -> tuple[CoHandler, ...]:
    """Record which departments must be told (发改/财政, 国资, supervisors) and give them the case to co-handle;
    the notification layer sends."""
    site = complaint.site
    county = site.jurisdiction_code if site is not None else complaint.jurisdiction_code
    wanted: list[tuple[Department | None, str]] = []
    if site is not None and site.investment == Investment.GOVERNMENT.value:
        wanted += [(department(session, county, "ndrc"), "ndrc"), (department(session, county, "finance"), "finance")]
    if site is not None and site.investment == Investment.SOE.value:
        wanted.append((department(session, county, "sasac"), "sasac"))
    if alert:
        if county:
            wanted.append((department(session, county, rules.supervisor_kind), "supervisor"))
        wanted.append((city_department(session, LEADING_GROUP_OFFICE), "leading_group_office"))
    roles: dict[int, list[str]] = {}
    depts: dict[int, Department] = {}
    for dept, role in wanted:
        if dept is not None and dept.id != handler.id:
            roles.setdefault(dept.id, []).append(role)
            depts[dept.id] = dept
    for dept_id, dept_roles in roles.items():
        why = "、".join(dict.fromkeys(ROLE_TEXT[r] for r in dept_roles))
        held = session.get(CoHandling, (complaint.id, dept_id))
        if held is None:
            session.add(CoHandling(complaint_id=complaint.id, department_id=dept_id, roles=dept_roles))
        else:
            held.roles = sorted(set(held.roles) | set(dept_roles))
        record(session, complaint, EventKind.CO_HANDLER_NOTIFIED, actor=ACTOR,
               note=f"通知协办：{depts[dept_id].name}（{why}）",
               data={"department_id": dept_id, "roles": dept_roles, "handler_department_id": handler.id})
    return tuple(CoHandler(department_id=d, roles=tuple(r)) for d, r in roles.items())
