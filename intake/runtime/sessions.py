"""The core's sessions: every session keeps the derived tables in step with what it writes and seals its events
into their cases' hash chains.

They live here, above every domain, because the hooks belong to supervision (per-case facts after each flush,
daily tallies at commit), to people (events published to subscribed client systems) and to the foundation (the
evidence chain, sealed last at commit: intake.foundation.chain).
"""
from __future__ import annotations

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from intake.foundation import chain
from intake.people.publish import install as publish_events
from intake.supervision import tallies
from intake.supervision.case_facts import keep_case_facts


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep the supervisors' per-case facts and daily tallies, publish case events and seal them."""
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_flush", keep_case_facts)
    event.listen(factory, "before_commit", tallies.at_commit)
    event.listen(factory, "after_rollback", tallies.forget)
    publish_events(factory)
    chain.install(factory)  # last: the chains' locks are the transaction's last
    return factory
