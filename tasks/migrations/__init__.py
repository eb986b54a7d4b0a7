"""Alembic migrations of the ledger (``tasks.ledger``): ``versions/`` holds one file per schema
change; ``tasks.ledger.Ledger`` upgrades a database that is behind when it opens it, and
``tryon db upgrade`` does the same on demand (the deployment's init job runs it)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent


# a ledger made before migrations (by create_all) is stamped with the newest revision whose table
# (or ``table.column``) it already holds, then upgraded from there
LEGACY_MARKERS = (
    ("0004", "generations.garment_sha256"),
    ("0003", "look_generations"),
    ("0002", "evaluations"),
    ("0001", "garments"),
)


def _holds(tables: Any, marker: str) -> bool:
    table, _, column = marker.partition(".")
    if not tables.has_table(table):
        return False
    return not column or column in {c["name"] for c in tables.get_columns(table)}


def _alembic_config(connection: Any = None, metadata: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    if metadata is not None:
        config.attributes["metadata"] = metadata
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS}"
    return head


def known_revisions() -> set[str]:
    """Every schema revision this code's migrations know."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def schema_revision(engine: Engine) -> str | None:
    """The ledger's schema revision (None: empty, or made before migrations)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the ledger's schema to the newest revision, in one transaction; return the revisions
    before and after. Two processes upgrading at once take turns (PostgreSQL: an advisory lock;
    SQLite: the write lock of ``BEGIN IMMEDIATE``); the second finds nothing left to do."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect, text

    with engine.connect() as plain, plain.execution_options(tryon_exclusive=True) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7405311)"))
        before = MigrationContext.configure(connection).get_current_revision()
        config = _alembic_config(connection)
        if before is None:
            tables = inspect(connection)
            legacy = next((rev for rev, marker in LEGACY_MARKERS if _holds(tables, marker)), None)
            if legacy is not None:
                command.stamp(config, legacy)
                before = legacy
        command.upgrade(config, "head")
    return before, head_revision()
