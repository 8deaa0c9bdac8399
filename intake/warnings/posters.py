"""Posters that are still up (督促张贴及使用欠薪投诉二维码): opens of a site's complaint form from its QR link
counted per local day (a number, no one's data), and inspectors' "poster present" check-ins with a photo whose
EXIF time and place are kept. The indicators (`indicators.poster_silent`, `indicators.scans_spiking`) read both.
Operations flush and never commit.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
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
    _add_scans(session, site.id, day, 1)


def _add_scans(session: Session, site_id: int, day: date, count: int) -> None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(SiteScan).values(site_id=site_id, day=day, count=count)
    session.execute(statement.on_conflict_do_update(index_elements=["site_id", "day"],
                                                    set_={"count": SiteScan.count + count}))


class ScanTally:
    """Opens of the QR form page counted in the web process and written in one batch every `every` seconds, so
    the wave's hottest page writes nothing itself: the view after the interval writes the batch once its page
    is sent (and a process that stops writes what it holds). Several processes add to the same rows, so their
    batches never conflict. A process that crashes loses what it counted since its last batch (in a wave, a few
    seconds' opens; when quiet, the few opens since then): a scan count is a trend for the indicators, never a
    record a worker relies on."""

    def __init__(self, every: float):
        self.every = every
        self._pending: Counter[tuple[int, date]] = Counter()
        self._lock = threading.Lock()
        self._written = time.monotonic()

    def add(self, site_id: int, day: date) -> bool:
        """Count one open; True when a batch is due."""
        with self._lock:
            self._pending[site_id, day] += 1
            return time.monotonic() - self._written >= self.every

    def write(self, session: Session) -> None:
        """Add what was counted to the day rows (flushed, for the caller to commit) and start afresh; in key
        order, so two processes' batches take their row locks in the same order."""
        with self._lock:
            pending, self._pending, self._written = self._pending, Counter(), time.monotonic()
        for (site_id, day), count in sorted(pending.items()):
            _add_scans(session, site_id, day, count)
        session.flush()


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
