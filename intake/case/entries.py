"""Entry numbers (入账号): "<county code>-<year>-<six digits>", given when a case is accepted, sequential per
county and year and never reused.

The counter is a row per (county, year) taken with FOR UPDATE on PostgreSQL (SQLite's write lock serialises
writers already), so two accepts at once get consecutive numbers; a number once taken is never handed out
again, even if its case is later reopened, because the counter only goes up and the case keeps its number.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.foundation.models import Complaint, EntryCounter


def entry_county(complaint: Complaint) -> str | None:
    """The handling department's unit, else the county the complaint was filed for."""
    if complaint.department is not None:
        return complaint.department.jurisdiction_code
    return complaint.jurisdiction_code


def assign_entry_no(session: Session, complaint: Complaint, local_now: datetime) -> str | None:
    """Give the complaint its entry number unless it has one; None when it belongs to no unit yet."""
    if complaint.entry_no is not None:
        return complaint.entry_no
    county = entry_county(complaint)
    if county is None:
        return None
    year = local_now.year
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(EntryCounter).values(jurisdiction_code=county, year=year, last=0)
                    .on_conflict_do_nothing())
    counter = session.scalar(select(EntryCounter).where(EntryCounter.jurisdiction_code == county,
                                                        EntryCounter.year == year)
                             .with_for_update().execution_options(populate_existing=True))
    counter.last += 1
    complaint.entry_no = f"{county}-{year}-{counter.last:06d}"
    session.flush()
    return complaint.entry_no
