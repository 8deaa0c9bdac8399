"""一处违法、处处受限: parties on a 黑名单 / 失信 listing in force (intake.supervision.employers) wherever they turn up:
a site whose owner or general contractor is listed (shown on the sites page and when a project list is imported),
and a case whose employer (as the worker named it, else the site's general contractor), owner or general
contractor is listed (shown on the case page, and noted once on the case's timeline when the worker routes it,
so the department sees it from the first hour). The warnings' own indicator covers payroll imports. Names are
compared as the register keeps them (spaces taken out).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from intake.case import cases
from intake.case.timers import FireContext
from intake.foundation.models import CaseFacts, Complaint, Employer, EmployerListing, Event, EventKind, Site, Timer
from intake.foundation.transitions import record
from intake.supervision.employers import LISTING_KINDS, in_force, normalise_name

from .orders import ACTOR

PARTIES = (("owner", "建设单位"), ("general_contractor", "施工总承包单位"))
EMPLOYER_ROLE = "欠薪方"


@dataclass(frozen=True)
class Hit:
    role: str
    employer: str
    listing: str
    ends_on: date

    def __str__(self) -> str:
        return f"{self.role}“{self.employer}”在{self.listing}中（至 {self.ends_on.isoformat()}）"


@dataclass(frozen=True)
class ListedParty:
    site_code: str
    site_name: str
    hit: Hit

    def __str__(self) -> str:
        return f"项目 {self.site_code}（{self.site_name}）的{self.hit}"


def _listings(session: Session, names: Iterable[str | None], today: date) -> dict[str, list[EmployerListing]]:
    """The listings in force of each of `names` that has any, in one query."""
    wanted = {normalise_name(n) for n in names} - {None}
    if not wanted:
        return {}
    found = session.scalars(select(Employer).where(Employer.name.in_(wanted)).options(selectinload(Employer.listings)))
    return _in_force(found, today)


def _in_force(employers: Iterable[Employer], today: date) -> dict[str, list[EmployerListing]]:
    listed = {e.name: [li for li in e.listings if in_force(li, today)] for e in employers}
    return {name: listings for name, listings in listed.items() if listings}


def _hits(role: str, name: str | None, listed: dict[str, list[EmployerListing]]) -> list[Hit]:
    name = normalise_name(name)
    return [Hit(role, name, LISTING_KINDS[li.kind], li.ends_on) for li in listed.get(name, ())]


def _site_hits(site: Site, listed: dict[str, list[EmployerListing]]) -> list[Hit]:
    return [hit for attr, role in PARTIES for hit in _hits(role, getattr(site, attr), listed)]


def listed_parties(session: Session, site_codes: Sequence[str], today: date) -> list[ListedParty]:
    """The sites among `site_codes` with a listed owner or general contractor, in code order."""
    sites = list(session.scalars(select(Site).where(Site.code.in_(site_codes)).order_by(Site.code)))
    listed = _listings(session, (getattr(s, attr) for s in sites for attr, _role in PARTIES), today)
    return [ListedParty(site.code, site.name, hit) for site in sites for hit in _site_hits(site, listed)]


def case_hits(session: Session, complaint: Complaint, today: date) -> list[Hit]:
    """The case's parties on a listing in force: its employer, then its site's owner and general contractor.

    One query finds the register's entries of the parties with the employer as the case's facts keep it (already
    normalised) on each row: a case none of whose parties is registered needs no more."""
    site = complaint.site
    parties = {normalise_name(getattr(site, attr)) for attr, _role in PARTIES} - {None} if site else set()
    rows = session.execute(_PARTIES, {"complaint_id": complaint.id, "parties": sorted(parties)}).all()
    listed = _in_force((e for e, _employer in rows), today)
    if not listed:
        return []
    employer = rows[0][1]
    hits = _hits(EMPLOYER_ROLE, employer, listed) + (_site_hits(site, listed) if site else [])
    return list(dict.fromkeys(hits))


def _parties():
    employer_of_case = select(CaseFacts.employer).where(CaseFacts.complaint_id == bindparam("complaint_id"))
    return (select(Employer, employer_of_case.scalar_subquery())
            .where(or_(Employer.name == employer_of_case.scalar_subquery(),
                       Employer.name.in_(bindparam("parties", expanding=True))))
            .options(selectinload(Employer.listings)))


# Built once: every route runs them.
_PARTIES = _parties()
_NOTED = select(exists().where(Event.complaint_id == bindparam("complaint_id"),
                               Event.kind == EventKind.EMPLOYER_LISTED))


def fire_route(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """The route timer (intake.case.cases.fire_route), then the case's listed parties noted on it, once."""
    cases.fire_route(session, timer, complaint, fire)
    hits = case_hits(session, complaint, fire.now.astimezone(fire.calendar.timezone).date())
    if hits and not session.scalar(_NOTED, {"complaint_id": complaint.id}):
        record(session, complaint, EventKind.EMPLOYER_LISTED, actor=ACTOR, note="；".join(map(str, hits)),
               data={"listed": [{"role": h.role, "employer": h.employer, "listing": h.listing,
                                 "ends_on": h.ends_on.isoformat()} for h in hits]})
