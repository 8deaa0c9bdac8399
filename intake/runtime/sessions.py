"""The core's sessions: every session keeps the derived tables in step with what it writes.

They live here, above every domain, because the hooks belong to supervision (per-case facts after each flush,
daily tallies at commit) and to people (events published to subscribed client systems).
"""
from __future__ import annotations

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from intake.people.publish import install as publish_events
from intake.supervision import tallies
from intake.supervision.case_facts import keep_case_facts


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep the supervisors' per-case facts and daily tallies and publish case events."""
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_flush", keep_case_facts)
    event.listen(factory, "before_commit", tallies.at_commit)
    event.listen(factory, "after_rollback", tallies.forget)
    publish_events(factory)
    return factory
