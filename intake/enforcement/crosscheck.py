"""一处违法、处处受限: sites whose owner or general contractor is an employer on a 黑名单 / 失信 listing in force
(intake.supervision.employers), found when a project list is imported so the department sees it at once.
Names are compared as the register keeps them (spaces taken out)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.foundation.models import Employer, Site
from intake.supervision.employers import LISTING_KINDS, in_force, normalise_name

PARTIES = (("owner", "建设单位"), ("general_contractor", "施工总承包单位"))


@dataclass(frozen=True)
class ListedParty:
    site_code: str
    site_name: str
    role: str
    employer: str
    listing: str
    ends_on: date

    def __str__(self) -> str:
        return (f"项目 {self.site_code}（{self.site_name}）的{self.role}“{self.employer}”在{self.listing}中"
                f"（至 {self.ends_on.isoformat()}）")


def listed_parties(session: Session, site_codes: Sequence[str], today: date) -> list[ListedParty]:
    """The sites among `site_codes` with a listed owner or general contractor, in code order."""
    sites = list(session.scalars(select(Site).where(Site.code.in_(site_codes)).order_by(Site.code)))
    names = {normalise_name(getattr(s, attr)) for s in sites for attr, _role in PARTIES} - {None}
    listed = {e.name: e for e in session.scalars(select(Employer).where(Employer.name.in_(names))
                                                  .options(selectinload(Employer.listings)))}
    hits = []
    for site in sites:
        for attr, role in PARTIES:
            found = listed.get(normalise_name(getattr(site, attr)))
            for listing in (li for li in (found.listings if found else ()) if in_force(li, today)):
                hits.append(ListedParty(site.code, site.name, role, found.name, LISTING_KINDS[listing.kind],
                                        listing.ends_on))
    return hits
