"""The warnings' lifecycle: raised from the indicators, kept in step with them, closed, escalated, made a case;
and public-opinion warnings (舆情) recorded by staff, verified and reported back.

The worker evaluates every indicator once a local day, and again after new payroll records (an import changes
the `payroll.EVALUATED_KEY` mark); several workers may try at once and one evaluates (`run_due`). A firing
indicator with no open warning on its site raises one, owned by the department complaints at that site go to; an
open warning whose indicator stopped firing clears itself (动态清零), counted as cleared automatically. A key
warning carries a rectification deadline (限期整改, working days from `[warnings] rectify_days`), and an opinion
warning a verify and a report-back deadline in hours: timer rows the worker fires (`fire_deadline`, in
intake.runtime.worker.TIMER_HANDLERS), escalating the warning to the county's supervising department like a red
card; doing the step or closing the warning cancels them. Staff may clear a warning with a reason, or turn a key
"workers unpaid" warning into a proactive case whose claim lines are the sums owed. Operations flush and never
commit.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from intake.case.complaints import NewComplaint, create_complaint
from intake.case.routing import site_department
from intake.case.timers import CANCELLED, PENDING, FireContext
from intake.delivery.outbox import notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import (
    AppState,
    Channel,
    ClaimLine,
    Complaint,
    RosterEntry,
    Site,
    SiteWarning,
    Timer,
    WarningEvent,
)
from intake.foundation.settings import Settings
from intake.people.access import Scope
from intake.registry.directory import department
from intake.supervision.figures import Filters

from .indicators import FIGURE_LABELS, GRADE_LABELS, INDICATORS, KEY, OPINION, Today
from .payroll import EVALUATED_KEY

OPEN, ESCALATED, CLEARED = "open", "escalated", "cleared"
LIVE = (OPEN, ESCALATED)
STATUS_LABELS = {OPEN: "待处置", ESCALATED: "已升级督办", CLEARED: "已消除"}
EVENT_LABELS = {"raised": "触发预警", "figures": "指标数据更新", "cleared_auto": "指标恢复，自动消除",
                "cleared": "人工消除", "escalated": "逾期，升级督办", "case_opened": "转为案件",
                "recorded": "登记舆情", "verified": "核查落实", "reported": "反馈上报，办结"}
VERIFIED = "verified"  # a public-opinion warning's first answer, which its report-back must follow
SYSTEM = "system:warnings"
# A public-opinion warning (舆情) is recorded by staff, not raised by an indicator.
PUBLIC_OPINION = "public_opinion"
INDICATOR_LABELS = {**{name: indicator.label for name, indicator in INDICATORS.items()}, PUBLIC_OPINION: "舆情信息"}
OPINION_SOURCES = {"post": "网络帖文", "media": "媒体报道", "gathering": "现场聚集", "petition": "信访", "other": "其他"}
# A warning's deadlines, as timer rows (intake.runtime.worker.TIMER_HANDLERS -> fire_deadline): what is overdue.
RECTIFY_CLOCK, VERIFY_CLOCK, REPORT_CLOCK = "warning_rectify", "warning_verify", "warning_report"
DEADLINE_TEXT = {RECTIFY_CLOCK: "逾期未整改", VERIFY_CLOCK: "超过时限未核查", REPORT_CLOCK: "超过时限未反馈上报"}
DEADLINE_LABELS = {RECTIFY_CLOCK: "整改期限", VERIFY_CLOCK: "核查时限", REPORT_CLOCK: "反馈上报时限"}
_CHUNK = 5000


class WarningError(ValueError):
    """A step on a warning that its state does not allow; the message is for staff."""


class OpinionMismatch(WarningError):
    """A client's reference was used before for a different public-opinion warning."""


@dataclass
class PassCounts:
    raised: int = 0
    cleared: int = 0

    @property
    def any(self) -> bool:
        return bool(self.raised or self.cleared)


def run_due(session: Session, now: datetime, settings: Settings, calendar: WorkingCalendar) -> PassCounts:
    """The worker's step: evaluate unless done today and no records came since.

    Several workers may run it at once. On PostgreSQL the first takes a transaction-level advisory lock and the
    others, finding it taken, go on with their pass; once it commits they read today's mark and skip (SQLite
    runs one worker, and its single writer serialises the rest). The mark is set compare-and-set, so records
    imported while the evaluation ran (which change the mark) are evaluated on the next pass.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(EVALUATED_KEY, 0)))):
        return PassCounts()
    today = now.astimezone(calendar.timezone).date().isoformat()
    seen = session.scalar(select(AppState.value).where(AppState.key == EVALUATED_KEY))
    if seen == today:
        return PassCounts()
    counts = evaluate(session, now, settings, calendar)
    if seen is None:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(AppState).values(key=EVALUATED_KEY, value=today, updated_at=now)
                        .on_conflict_do_nothing())
    else:
        session.execute(update(AppState).where(AppState.key == EVALUATED_KEY, AppState.value == seen)
                        .values(value=today, updated_at=now))
    return counts


def evaluate(session: Session, now: datetime, settings: Settings, calendar: WorkingCalendar) -> PassCounts:
    """Every indicator over every site: raise what newly fires, update figures, clear what stopped firing."""
    today = Today(now.astimezone(calendar.timezone).date(), calendar.timezone, calendar, settings.warnings)
    live = {(w.site_id, w.indicator): w
            for w in session.scalars(select(SiteWarning).where(SiteWarning.status.in_(LIVE),
                                                               SiteWarning.indicator.in_(list(INDICATORS))))}
    counts = PassCounts()
    fresh: list[tuple[int, str, dict[str, Any]]] = []
    for name, indicator in INDICATORS.items():
        for site_id, figures in indicator.find(session, today).items():
            warning = live.pop((site_id, name), None)
            if warning is None:
                fresh.append((site_id, name, figures))
            elif warning.figures != figures:
                warning.figures = figures
                _log(session, warning, "figures", SYSTEM, None, now)
    _raise(session, fresh, now, settings, today)
    counts.raised = len(fresh)
    for warning in live.values():
        _close(session, warning, "cleared_auto", SYSTEM, "指标恢复正常（动态清零）", now, cancel=False)
        counts.cleared += 1
    _cancel_timers(session, [w.id for w in live.values()])
    session.flush()
    return counts


def fire_deadline(session: Session, timer: Timer, _complaint: Complaint | None, fire: FireContext) -> None:
    """A warning's deadline passed with its step not done (a key warning not rectified, an opinion warning not
    verified or not reported back): escalated to the county's supervising department, like a red card. Closing
    a warning or doing the step cancels the timer; one done while this timer was being claimed is left alone."""
    warning = timer.warning
    if warning is None or warning.status not in LIVE or (timer.clock == RECTIFY_CLOCK and warning.status != OPEN) \
            or (timer.clock == VERIFY_CLOCK and is_verified(warning)):
        return
    overdue = DEADLINE_TEXT[timer.clock]
    warning.status, warning.escalated_at = ESCALATED, fire.now
    _log(session, warning, "escalated", SYSTEM, overdue, fire.now)
    supervisor = department(session, warning.site.jurisdiction_code, fire.settings.clocks.county_supervisor_kind)
    notify_department(session, supervisor, {
        "kind": "warning_escalated", "warning_id": warning.id,
        "text": f"预警：{warning.site.name}“{INDICATOR_LABELS[warning.indicator]}”{overdue}，已升级督办。"},
        None, fire.now, flush=False)


def record_opinion(session: Session, scope: Scope, site: Site, settings: Settings, now: datetime, *, source: str,
                   link: str, summary: str, happened_at: datetime | None = None,
                   client: tuple[int, str] | None = None) -> SiteWarning:
    """Staff record a public-opinion warning (舆情: a post, a report, a gathering at the site), or a client system
    pushes one (`client`: its id and its own reference, see `push_opinion`): owned like a complaint at the site,
    with clocks in hours to verify and to report back, counted from now. `happened_at`: when the post appeared
    or the gathering began, if known, shown on the deployment's wall clock."""
    summary, link = (summary or "").strip(), (link or "").strip()
    if source not in OPINION_SOURCES:
        raise WarningError("请选择舆情来源")
    if not summary:
        raise WarningError("请填写舆情内容摘要")
    if len(summary) > 2000:
        raise WarningError(f"内容摘要过长（{len(summary)}个字，最多2000个字）")
    if link and (len(link) > 500 or not link.lower().startswith(("http://", "https://"))):
        raise WarningError("链接应以 http:// 或 https:// 开头，最多500个字符")
    config = settings.warnings
    figures = {"source": OPINION_SOURCES[source], "link": link or None, "summary": summary}
    if happened_at is not None:
        figures["happened_at"] = local(happened_at, ZoneInfo(settings.calendar.timezone))
    warning = SiteWarning(site_id=site.id, indicator=PUBLIC_OPINION, grade=OPINION, status=OPEN,
                          department=site_department(session, site, settings), opened_at=now, figures=figures,
                          due_at=now + timedelta(hours=config.opinion_report_hours), employers=_employers(session, site),
                          client_id=client[0] if client else None, client_ref=client[1] if client else None)
    session.add(warning)
    _log(session, warning, "recorded", scope.actor, None, now)
    for clock, hours in ((VERIFY_CLOCK, config.opinion_verify_hours), (REPORT_CLOCK, config.opinion_report_hours)):
        session.add(Timer(warning=warning, clock=clock, due_at=now + timedelta(hours=hours), version=0,
                          state=PENDING, created_at=now))
    session.flush()
    return warning


def push_opinion(session: Session, scope: Scope, client: tuple[int, str], site: Site, settings: Settings,
                 now: datetime, **fields: Any) -> tuple[SiteWarning, bool]:
    """A client system's public-opinion warning, once per its reference: (warning, created). The same reference
    again returns the first warning if it says the same, else OpinionMismatch; two pushes racing on one
    reference record one (the unique client reference decides)."""
    try:
        with session.begin_nested():
            return record_opinion(session, scope, site, settings, now, client=client, **fields), True
    except IntegrityError:
        first = session.scalar(select(SiteWarning).where(SiteWarning.client_id == client[0],
                                                         SiteWarning.client_ref == client[1]))
        if first is None:
            raise
    pushed = {"source": OPINION_SOURCES.get(fields["source"]), "link": (fields["link"] or "").strip() or None,
              "summary": (fields["summary"] or "").strip()}
    if first.site_id != site.id or any(first.figures.get(k) != v for k, v in pushed.items()):
        raise OpinionMismatch("该 reference 已用于另一条内容不同的舆情")
    return first, False


def verify_opinion(session: Session, scope: Scope, warning: SiteWarning, note: str, now: datetime) -> None:
    """核查落实: what staff found, on record; the verify clock stops."""
    note = _opinion_step(warning, note, "核查情况")
    if is_verified(warning):
        raise WarningError("该舆情已核查")
    _log(session, warning, VERIFIED, scope.actor, note, now)
    _cancel_timers(session, [warning.id], VERIFY_CLOCK)
    session.flush()


def report_opinion(session: Session, scope: Scope, warning: SiteWarning, note: str, now: datetime) -> None:
    """反馈上报: what was reported back closes the warning (after it was verified) and stops its clocks."""
    note = _opinion_step(warning, note, "反馈上报内容")
    if not is_verified(warning):
        raise WarningError("请先核查落实，再反馈上报")
    _close(session, warning, "reported", scope.actor, note, now)
    session.flush()


def _opinion_step(warning: SiteWarning, note: str, what: str) -> str:
    if warning.indicator != PUBLIC_OPINION:
        raise WarningError("只有舆情信息需要核查和反馈上报")
    if warning.status not in LIVE:
        raise WarningError("该预警已消除")
    note = (note or "").strip()
    if not note:
        raise WarningError(f"请填写{what}")
    return note[:2000]


def deadlines(session: Session, warning: SiteWarning) -> list[tuple[str, datetime]]:
    """The warning's running clocks, as (label, due), soonest first: what the warning page shows."""
    return [(DEADLINE_LABELS.get(t.clock, t.clock), t.due_at) for t in session.scalars(
        select(Timer).where(Timer.warning_id == warning.id, Timer.state == PENDING).order_by(Timer.due_at))]


def clear(session: Session, scope: Scope, warning: SiteWarning, reason: str, now: datetime) -> SiteWarning:
    """Staff clear a warning they have handled (核查属实并整改, or a false alarm), with the reason on record."""
    reason = (reason or "").strip()
    if not reason:
        raise WarningError("请填写消除预警的原因")
    if warning.status not in LIVE:
        raise WarningError("该预警已消除")
    _close(session, warning, "cleared", scope.actor, reason[:2000], now)
    session.flush()
    return warning


def open_case(session: Session, scope: Scope, warning: SiteWarning, now: datetime) -> Any:
    """A proactive case (channel `warning`) from a "workers unpaid" warning: one claim line per worker, days at
    the rate minus nothing paid, so staff start with the sums. The first worker of the roster is the contact."""
    if warning.indicator != "workers_unpaid" or warning.status not in LIVE:
        raise WarningError("只有未消除的“工人两个月以上未发工资”预警可以转为案件")
    if warning.complaint_id is not None:
        raise WarningError("该预警已转为案件")
    lines = warning.figures["lines"]
    roster = {r.id_number_hash: r for r in session.scalars(
        select(RosterEntry).where(RosterEntry.site_id == warning.site_id,
                                  RosterEntry.id_number_hash.in_(list(lines))))}
    contact = next((roster[h] for h in lines if h in roster and roster[h].phone), None)
    if contact is None:
        raise WarningError("花名册中这些工人都没有手机号，无法转为案件，请先补充花名册")
    site = warning.site
    complaint, _ = create_complaint(session, NewComplaint(
        channel=Channel.WARNING.value, phone=contact.phone, name=contact.name, id_number=contact.id_number,
        site_id=site.id, project_name=site.name, workers=len(lines), amount=warning.figures["owed"],
        months=max(len(line["months"]) for line in lines.values()),
        free_text=f"预警转案：{site.name}有{len(lines)}名工人有考勤但两个月以上未发工资，合计约{warning.figures['owed']}元。",
        claim={"employer": site.general_contractor or site.owner or "", "warning_id": warning.id}))
    for worker_hash, line in lines.items():
        entry = roster.get(worker_hash)
        session.add(ClaimLine(complaint_id=complaint.id, worker_name=entry.name if entry else None,
                              amount_claimed=line["owed"], amount_paid=0, phone=entry.phone if entry else None))
    warning.complaint_id = complaint.id
    _log(session, warning, "case_opened", scope.actor, complaint.ticket_no, now)
    session.flush()
    return complaint


def warnings_for(session: Session, scope: Scope, *, status: str = "", grade: str = "", indicator: str = "",
                 county: str = "", limit: int = 500, before: int | None = None) -> list[SiteWarning]:
    """The warnings in the user's scope (like its cases), newest first, filtered; `before`: only those with a
    smaller id (the next page of a client system's list)."""
    query = _scoped(scope).order_by(SiteWarning.id.desc()).limit(limit)
    if before is not None:
        query = query.where(SiteWarning.id < before)
    if status == "live":
        query = query.where(SiteWarning.status.in_(LIVE))
    elif status:
        query = query.where(SiteWarning.status == status)
    if grade:
        query = query.where(SiteWarning.grade == grade)
    if indicator:
        query = query.where(SiteWarning.indicator == indicator)
    if county:
        query = query.where(Site.jurisdiction_code == county)
    return list(session.scalars(query))


def warning_for(session: Session, scope: Scope, warning_id: int) -> SiteWarning | None:
    return session.scalar(_scoped(scope).where(SiteWarning.id == warning_id))


def counts(session: Session, scope: Scope) -> dict[str, int]:
    """Open warnings by grade, and those escalated or cleared, in scope: the dashboard's figures."""
    rows = session.execute(_scoped(scope).with_only_columns(SiteWarning.status, SiteWarning.grade, func.count())
                           .group_by(SiteWarning.status, SiteWarning.grade))
    found = {"general": 0, "key": 0, "opinion": 0, "escalated": 0, "cleared": 0}
    for status, grade, n in rows:
        found["cleared" if status == CLEARED else grade] += n
        found["escalated"] += n if status == ESCALATED else 0
    return found


LEDGER_HEADER = ("预警编号", "项目编号", "项目名称", "所在区县", "指标", "等级", "状态", "责任部门", "建设单位",
                 "施工总承包单位", "触发数据", "触发时间", "期限", "升级督办时间", "消除时间", "消除原因", "转为案件")


def ledger_rows(session: Session, scope: Scope, filters: Filters, timezone: str) -> Iterator[tuple]:
    """The warnings sheet of the ledger export (台账): the warnings in scope raised within the dashboard's dates and
    county, oldest first, with times on the deployment's wall clock and the figures as staff read them."""
    zone = ZoneInfo(timezone)
    query = (_scoped(scope).add_columns(Complaint.ticket_no)
             .outerjoin(Complaint, Complaint.id == SiteWarning.complaint_id)
             .options(joinedload(SiteWarning.site).joinedload(Site.jurisdiction), joinedload(SiteWarning.department))
             .order_by(SiteWarning.id).execution_options(yield_per=_CHUNK))
    if filters.start:
        query = query.where(SiteWarning.opened_at >= datetime.combine(filters.start, time(), zone))
    if filters.end:
        query = query.where(SiteWarning.opened_at < datetime.combine(filters.end + timedelta(days=1), time(), zone))
    if filters.county:
        query = query.where(Site.jurisdiction_code == filters.county)
    for w, ticket_no in session.execute(query):
        yield (w.id, w.site.code, w.site.name, w.site.jurisdiction.name, INDICATOR_LABELS.get(w.indicator, w.indicator),
               GRADE_LABELS[w.grade], STATUS_LABELS[w.status], w.department.name if w.department else "",
               w.employers.get("owner") or "", w.employers.get("general_contractor") or "", _figures_text(w.figures),
               _wall(w.opened_at, zone), _wall(w.due_at, zone), _wall(w.escalated_at, zone), _wall(w.cleared_at, zone),
               w.cleared_reason or "", ticket_no or "")


def _figures_text(figures: dict[str, Any]) -> str:
    shown = [f"{FIGURE_LABELS.get(k, k)}：{'、'.join(map(str, v)) if isinstance(v, list) else v}"
             for k, v in figures.items() if k != "lines" and v is not None]
    return "；".join(shown + ([f"涉及工人明细 {len(figures['lines'])} 人"] if figures.get("lines") else []))


def _wall(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A spreadsheet date-time holds no zone: the deployment's wall clock, to the minute."""
    return moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) if moment else None


def _scoped(scope: Scope):
    return select(SiteWarning).join(Site, Site.id == SiteWarning.site_id).where(
        scope.units(SiteWarning.department_id, Site.jurisdiction_code))


def _raise(session: Session, fresh: list[tuple[int, str, dict[str, Any]]], now: datetime, settings: Settings,
           today: Today) -> None:
    """New warnings for (site id, indicator, figures), their sites, owners and subcontractors read in bulk."""
    ids = sorted({site_id for site_id, _, _ in fresh})
    sites: dict[int, Site] = {}
    subcontractors: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        sites.update((site.id, site) for site in session.scalars(select(Site).where(Site.id.in_(chunk))))
        for site_id, name in session.execute(select(RosterEntry.site_id, RosterEntry.subcontractor).where(
                RosterEntry.site_id.in_(chunk), RosterEntry.subcontractor.is_not(None)).distinct()):
            subcontractors[site_id].add(name)
    owners: dict[tuple[str, str], Any] = {}
    due = today.utc(today.calendar.add_working_days(today.day, settings.warnings.rectify_days)) + timedelta(days=1)
    for site_id, name, figures in fresh:
        site = sites[site_id]
        unit = (site.jurisdiction_code, site.industry)
        if unit not in owners:
            owners[unit] = site_department(session, site, settings)
        warning = SiteWarning(site_id=site_id, indicator=name, grade=INDICATORS[name].grade, status=OPEN,
                              department=owners[unit], figures=figures, opened_at=now,
                              due_at=due if INDICATORS[name].grade == KEY else None,
                              employers=_chain(site, subcontractors[site_id]))
        session.add(warning)
        _log(session, warning, "raised", SYSTEM, None, now)
        if warning.due_at is not None:
            session.add(Timer(warning=warning, clock=RECTIFY_CLOCK, due_at=due, version=0, state=PENDING,
                              created_at=now))


def _employers(session: Session, site: Site) -> dict[str, Any]:
    return _chain(site, set(session.scalars(select(RosterEntry.subcontractor).where(
        RosterEntry.site_id == site.id, RosterEntry.subcontractor.is_not(None)).distinct())))


def _chain(site: Site, subcontractors: set[str]) -> dict[str, Any]:
    """The employer chain a warning carries: the site's owner and general contractor, the roster's subcontractors."""
    return {"owner": site.owner, "general_contractor": site.general_contractor,
            "subcontractors": sorted(subcontractors)}


def _close(session: Session, warning: SiteWarning, kind: str, actor: str, reason: str, now: datetime, *,
           cancel: bool = True) -> None:
    """Closed with the reason on its timeline; cancel=False when the caller cancels a whole pass's timers."""
    warning.status, warning.cleared_at, warning.cleared_reason = CLEARED, now, reason
    _log(session, warning, kind, actor, reason, now)
    if cancel:
        _cancel_timers(session, [warning.id])


def _cancel_timers(session: Session, warning_ids: list[int], clock: str | None = None) -> None:
    for start in range(0, len(warning_ids), _CHUNK):
        query = (update(Timer).where(Timer.warning_id.in_(warning_ids[start:start + _CHUNK]), Timer.state == PENDING)
                 .values(state=CANCELLED))
        session.execute(query.where(Timer.clock == clock) if clock else query)


def is_verified(warning: SiteWarning) -> bool:
    return any(e.kind == VERIFIED for e in warning.events)


def _log(session: Session, warning: SiteWarning, kind: str, actor: str, note: str | None, now: datetime) -> None:
    session.add(WarningEvent(warning=warning, kind=kind, actor=actor, note=note, created_at=now))


def local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""
