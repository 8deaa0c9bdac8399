"""Migrations: one head, and `upgrade head` on an empty database gives exactly the models' schema."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from intake.foundation.db import make_engine
from intake.foundation.models import Base
from migrations import alembic_config, current_revision, downgrade, head_revision, upgrade


def test_single_head():
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def schema_diff(engine) -> list:
    """What the database's schema lacks or has beyond the models'."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_upgraded_database_matches_models(migrated):
    engine = make_engine(migrated)
    diff = schema_diff(engine)
    engine.dispose()
    assert diff == []


def test_migrating_all_the_way_down_and_up_again_leaves_the_schema_equal(scratch_database):
    engine = make_engine(scratch_database)
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    diff = schema_diff(engine)
    engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(migrated):
    engine = make_engine(migrated)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
