"""The review page's own PostgreSQL role (docker/ gives it one): with exactly the grants of
``tryon review grant``, the page signs reviewers in and out, approves, rejects and queues
re-generations; the pipeline's rows it cannot delete, leases it cannot touch, tables it cannot
make or drop."""

from __future__ import annotations

import uuid

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from tasks.cli import main
from tasks.context import RunContext
from tasks.ledger import Ledger, head_revision
from tasks.review import decisions
from tasks.review.sessions import Throttle, end_session, find_session, open_session
from tests.conftest import flagged_generations

DATE = "2026-11-20"


@pytest.fixture
def review_role(ctx, postgres_url, monkeypatch, capsys):
    """A ledger made by its owner with three flagged generations, a login role for the page
    granted by ``tryon review grant``, and a context that reaches the ledger as that role."""
    owner = RunContext(settings=ctx.settings, store=ctx.store, ledger=Ledger(postgres_url))
    ids = flagged_generations(owner, 3, date=DATE)
    role = f"tryon_review_{uuid.uuid4().hex[:8]}"
    database = make_url(postgres_url).database
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=database)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE ROLE "{role}" LOGIN; GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
    monkeypatch.setenv("TRYON_LEDGER_URL", postgres_url)
    assert main(["review", "grant", role]) == 0
    assert f"granted {role}" in capsys.readouterr().out
    page = RunContext(
        settings=ctx.settings,
        store=ctx.store,
        ledger=Ledger(make_url(postgres_url).set(username=role).render_as_string(hide_password=False)),
    )
    try:
        yield owner, page, ids
    finally:
        page.ledger.engine.dispose()
        owner.ledger.engine.dispose()
        admin.cursor().execute(f'DROP OWNED BY "{role}"; REVOKE CONNECT ON DATABASE "{database}" FROM "{role}"')
        admin.close()
        cluster = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        cluster.autocommit = True
        cluster.cursor().execute(f'DROP ROLE "{role}"')
        cluster.close()


def test_the_review_role_does_the_page_s_work(review_role):
    owner, page, ids = review_role
    token = open_session(page.ledger, "alice", 60)
    assert find_session(page.ledger, token).reviewer == "alice"
    end_session(page.ledger, token)
    assert find_session(page.ledger, token) is None
    throttle = Throttle(per_name=2, per_address=10, window_s=60)
    assert [throttle.admit(page.ledger, "alice", "10.0.0.1") for _ in range(3)][:2] == [0, 0]
    throttle.succeeded(page.ledger, "alice", "10.0.0.1")
    decisions.approve(page, ids[0], "alice")
    decisions.reject(page, ids[1], "alice", "collar melted", "garment_whole")
    new_id = decisions.regenerate(page, ids[2], "alice")
    states = {g.generation_id: g.state for g in owner.ledger.generations(DATE)}
    assert states[ids[0]] == "published" and states[ids[1]] == "rejected" and states[new_id] == "planned"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM generations",
        "DELETE FROM review_decisions",
        "UPDATE review_decisions SET reviewer = 'mallory'",
        "INSERT INTO garments (drop_date, sku, category, sha256, state) VALUES ('2026-11-20', 'X', 'upper_body', 'a', 'new')",
        "UPDATE model_photos SET state = 'quarantined'",
        "SELECT * FROM run_leases",
        "DROP TABLE generations",
        "CREATE TABLE scratch (id int)",
        "ALTER TABLE generations ADD COLUMN x int",
        "UPDATE alembic_version SET version_num = '0001'",
    ],
)
def test_the_review_role_cannot_do_anything_else(review_role, statement):
    _, page, _ = review_role
    with pytest.raises(ProgrammingError, match="permission denied|must be owner"):
        with page.ledger.engine.begin() as connection:
            connection.execute(text(statement))


def test_a_sqlite_ledger_has_no_roles_to_grant(ctx, monkeypatch, capsys):
    monkeypatch.setenv("TRYON_LEDGER_URL", ctx.settings.resolved_ledger_url)
    assert main(["review", "grant", "tryon_review"]) == 2
    assert "PostgreSQL" in capsys.readouterr().err


def test_the_review_role_finding_the_schema_behind_says_who_must_upgrade(review_role):
    from alembic import command

    from tasks.migrations import _alembic_config

    owner, page, _ = review_role
    with owner.ledger.engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0001")
    with pytest.raises(
        RuntimeError,
        match=rf"at revision 0001, this code needs {head_revision()}, and this role may not upgrade it: run `tryon db upgrade`",
    ):
        Ledger(page.ledger.url)
    assert Ledger(owner.ledger.url) and [r for r in owner.ledger.generations(DATE)], "the owner upgrades it, rows kept"
