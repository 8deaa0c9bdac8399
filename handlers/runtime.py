"""What every handler shares: the app's services, the request's database session and a case context.

Kept apart from the composition root (handlers/__init__.py) so that no handler imports back into it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake.case.cases import CaseContext
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.db import read_first
from intake.foundation.models import utcnow
from intake.foundation.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    calendar: WorkingCalendar
    reading: Engine = field(init=False)  # the engine of pages' sessions (see db())

    def __post_init__(self) -> None:
        self.reading = read_first(self.engine)


SAFE_METHODS = frozenset({"GET", "HEAD"})


def services(app: Flask | None = None) -> Services:
    return (app or current_app).extensions["qingling"]


def db() -> Session:
    """The request's session; the handler commits once, teardown closes (and so rolls back what was not). A GET
    or HEAD request's session reads first (intake.foundation.db.read_first): on SQLite a page does not hold the
    writers' lock while it reads and renders."""
    if "db" not in g:
        svc = services()
        reads = has_request_context() and request.method in SAFE_METHODS
        g.db = svc.sessions(bind=svc.reading) if reads else svc.sessions()
    return g.db


def case_context() -> CaseContext:
    """What a case operation needs to move clocks, at this request's moment."""
    svc = services()
    return CaseContext(svc.settings, svc.calendar, utcnow())


def close_session(_exc) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
