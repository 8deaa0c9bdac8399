"""A complaint's claim line pre-filled from the site's records: when a worker complains about a site with a
real-name roster, the roster names them (matched by the keyed hash of their ID number, else of their phone) and
the attendance and payouts give the months not paid and the sum owed. Staff see it on the case and take it as
the worker's claim line with one click, or not; nothing is written until they do.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.models import Complaint, RosterEntry

from .indicators import owed_by_worker


@dataclass(frozen=True)
class RosterClaim:
    """What the site's records say about one complainant, as staff will read it."""

    name: str
    id_number_masked: str
    team: str | None
    subcontractor: str | None
    matched_by: str
    months: list[str]
    days: int
    owed: int


def roster_claim(session: Session, complaint: Complaint, month: date) -> RosterClaim | None:
    """The complainant on the roster of the site complained about, with their attended months before `month`
    (the current local month) that no payout followed; None without a site or a match. A phone shared by
    several workers of the roster matches none of them."""
    person = complaint.complainant
    if complaint.site_id is None or person is None:
        return None
    entry, matched_by = None, ""
    for column, value, label in ((RosterEntry.id_number_hash, person.id_number_hash, "身份证号"),
                                 (RosterEntry.phone_hash, person.phone_hash, "手机号")):
        if value is None:
            continue
        found = session.scalars(select(RosterEntry).where(RosterEntry.site_id == complaint.site_id,
                                                          column == value).limit(2)).all()
        if len(found) == 1:
            entry, matched_by = found[0], label
            break
    if entry is None:
        return None
    line = owed_by_worker(session, month, site_id=entry.site_id, worker=entry.id_number_hash).get(
        entry.site_id, {}).get(entry.id_number_hash, {"months": [], "days": 0, "owed": 0})
    return RosterClaim(entry.name, entry.id_number_masked, entry.team, entry.subcontractor, matched_by,
                       line["months"], line["days"], line["owed"])
