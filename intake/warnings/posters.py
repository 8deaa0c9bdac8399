"""Posters that are still up (督促张贴及使用欠薪投诉二维码): opens of a site's complaint form from its QR link
counted per local day (a number, no one's data), and inspectors' "poster present" check-ins with a photo whose
EXIF time and place are kept. The indicators (`indicators.poster_silent`, `indicators.scans_spiking`) read both.
Operations flush and never commit.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.foundation.models import PosterCheckIn, Site, SiteScan
from intake.people.access import Scope
from intake.reading.photos import Photo, taken

from .payroll import mark_changed


def count_scan(session: Session, site: Site, day: date) -> None:
    """One open of the site's form from its QR link on the local `day`: one upsert, no read."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(SiteScan).values(site_id=site.id, day=day, count=1)
    session.execute(statement.on_conflict_do_update(index_elements=["site_id", "day"],
                                                    set_={"count": SiteScan.count + 1}))


def check_in(session: Session, scope: Scope, site: Site, photo: Photo, original: bytes, zone: ZoneInfo,
             now: datetime, note: str = "") -> PosterCheckIn:
    """An inspector saw the poster up: the cleaned photo, the EXIF time (camera local time, read in the
    deployment's zone) and GPS place of the original. It ends a silence at the next evaluation, which it asks for."""
    where = taken(original)
    row = PosterCheckIn(site_id=site.id, actor=scope.actor, photo=photo.content, content_type=photo.content_type,
                        taken_at=where.at.replace(tzinfo=zone) if where.at else None, latitude=where.latitude,
                        longitude=where.longitude, note=(note or "").strip()[:500] or None, created_at=now)
    session.add(row)
    mark_changed(session)
    session.flush()
    return row
