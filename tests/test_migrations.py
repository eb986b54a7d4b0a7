"""The ledger's Alembic migrations on SQLite and PostgreSQL: an empty database upgraded to the
models' schema; a database at the first revision, and one made before migrations, holding rows,
upgraded with nothing lost; `tryon db upgrade` says what it did."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text

from tasks.ledger import Base, EvaluationRow, Garment, Generation, Ledger
from tasks.migrations import _alembic_config, head_revision, schema_revision
from tests.conftest import cli_env

FIRST = "0001"
NEW_TABLES = (
    "evaluations",
    "backfill_decisions",
    "look_generations",
    "qc_suite_promotions",
    "photo_releases",
    "rights_withdrawals",
    "erasures",
    "ledger_bucket",
)  # after the first revision
NEW_COLUMNS = {  # revisions 0004, 0005 and 0010
    "generations": ("garment_sha256", "qc_suite_version"),
    "publications": ("reason",),
    "review_decisions": ("failure_mode", "reason_before"),
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def rows_of_the_first_revision(connection) -> None:
    """A garment and its generation, written with the first revision's tables."""
    connection.execute(
        text(
            "INSERT INTO model_photos (photo_id, sha256, source_key, state, categories, backends, updated_at) "
            "VALUES ('p1', 'a', 'library/photos/p1.jpg', 'ready', '[\"upper_body\"]', '{}', CURRENT_TIMESTAMP)"
        )
    )
    connection.execute(
        text(
            "INSERT INTO garments (drop_date, sku, category, sha256, meta, state, updated_at) "
            "VALUES ('2026-11-20', 'TEE-1', 'upper_body', 'feed', '{\"k\": 1}', 'published', CURRENT_TIMESTAMP)"
        )
    )
    garment_id = connection.execute(text("SELECT id FROM garments")).scalar_one()
    connection.execute(
        text(
            "INSERT INTO generations (generation_id, garment_id, photo_id, drop_date, sku, category, engine, "
            "model_version, weights_sha256, seed, parameters, state, updated_at) VALUES ('g1', :g, 'p1', "
            "'2026-11-20', 'TEE-1', 'upper_body', 'warp-baseline', 'warp-baseline-1.0.0', 'none', 7, '{}', "
            "'published', CURRENT_TIMESTAMP)"
        ),
        {"g": garment_id},
    )
    connection.execute(
        text(
            'INSERT INTO qc_results (generation_id, "check", passed, value, threshold, state, updated_at) '
            "VALUES ('g1', 'not_blank', true, 40.0, 'v2: >= 8.0', 'passed', CURRENT_TIMESTAMP)"
        )
    )


def assert_kept_and_current(url: str) -> None:
    ledger = Ledger(url)
    assert schema_revision(ledger.engine) == head_revision()
    [garment] = ledger.garments("2026-11-20")
    assert (garment.sku, garment.meta, garment.state) == ("TEE-1", {"k": 1}, "published")
    [generation] = ledger.generations("2026-11-20")
    assert (generation.generation_id, generation.seed, generation.garment_id) == ("g1", 7, garment.id)
    assert generation.garment_sha256 == garment.sha256 == "feed", "0004 records the version each generation was made from"
    assert generation.qc_suite_version == 2, "0005 reads the suite version that judged it from its QC rows"
    with ledger.session() as session:  # the new tables work
        session.add(
            EvaluationRow(
                evaluation_id="e",
                set_name="s",
                set_sha256="x",
                version="v",
                engine="e",
                model_version="m",
                weights_sha256="w",
                category="upper_body",
            )
        )
    with ledger.session() as session:
        assert session.scalars(select(EvaluationRow.version)).all() == ["v"]
    ledger.engine.dispose()


def test_an_empty_database_gets_exactly_the_models_schema(url: str) -> None:
    ledger = Ledger(url)
    assert schema_revision(ledger.engine) == head_revision() == "0010"
    with ledger.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    ledger.engine.dispose()


def test_a_database_at_the_first_revision_holding_rows_is_upgraded_without_loss(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), FIRST)
        assert not any(inspect(connection).has_table(t) for t in NEW_TABLES)
        rows_of_the_first_revision(connection)
    engine.dispose()
    assert_kept_and_current(url)


def test_a_ledger_made_before_migrations_is_stamped_and_upgraded(url: str) -> None:
    """A ledger its tables were created for by ``create_all`` (no alembic_version table)."""
    engine = create_engine(url)
    first = MetaData()
    for table in Base.metadata.sorted_tables:
        if table.name not in NEW_TABLES:
            copied = table.to_metadata(first)
            for column in NEW_COLUMNS.get(table.name, ()):
                copied._columns.remove(copied.c[column])
    first.create_all(engine)
    with engine.begin() as connection:
        rows_of_the_first_revision(connection)
    engine.dispose()
    assert_kept_and_current(url)


def test_db_upgrade_command(tmp_path) -> None:
    def upgrade() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tasks.cli", "db", "upgrade"],
            env=cli_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip()

    assert upgrade() == f"ledger schema at revision {head_revision()} (was empty)"
    assert upgrade() == f"ledger schema at revision {head_revision()} (already)"
    assert {Garment.__tablename__, Generation.__tablename__, *NEW_TABLES} <= set(
        inspect(create_engine(f"sqlite:///{tmp_path / 'home' / 'ledger.db'}")).get_table_names()
    )
