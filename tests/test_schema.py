"""Migrations: one head, and `upgrade head` on an empty database gives exactly the models' schema."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from intake.foundation.db import make_engine
from intake.foundation.models import Base
from migrations import alembic_config, current_revision, head_revision, upgrade


def test_single_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_upgraded_database_matches_models(migrated):
    engine = make_engine(migrated)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(migrated):
    engine = make_engine(migrated)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
