"""What the review page may do to the ledger, as PostgreSQL grants for its own role: read what
a reviewer looks at, change a flagged generation's state and its garment's, add decisions,
publications and re-generations, keep its sessions and sign-in counts, read the schema's
revision. Nothing else: no deletes of pipeline rows, no run leases, no schema changes. The ledger's owner (the pipeline's
role) runs ``tryon review grant ROLE`` once the tables exist (docker/'s airflow-init does)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tasks.ledger import (
    Garment,
    Generation,
    LookGeneration,
    ModelPhoto,
    PhotoReleaseRow,
    Publication,
    QCResult,
    QCSuitePromotion,
    ReviewDecision,
    ReviewSession,
    SignInAttempts,
)

REVIEW_PRIVILEGES: dict[str, tuple[str, ...]] = {
    Garment.__tablename__: ("SELECT", "UPDATE"),
    ModelPhoto.__tablename__: ("SELECT",),
    PhotoReleaseRow.__tablename__: ("SELECT",),  # an approval asks whether the photo's release allows the storefront
    Generation.__tablename__: ("SELECT", "INSERT", "UPDATE"),
    QCResult.__tablename__: ("SELECT",),
    QCSuitePromotion.__tablename__: ("SELECT",),  # which QC suite is current: the failure modes a rejection may name
    Publication.__tablename__: ("SELECT", "INSERT", "UPDATE"),
    ReviewDecision.__tablename__: ("SELECT", "INSERT"),
    LookGeneration.__tablename__: ("SELECT", "UPDATE"),
    ReviewSession.__tablename__: ("SELECT", "INSERT", "DELETE"),
    SignInAttempts.__tablename__: ("SELECT", "INSERT", "UPDATE"),
    "alembic_version": ("SELECT",),  # the schema's revision: the page checks it is not behind, never changes it
}


def _quoted(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote(name)


def grant_review_access(engine: Engine, role: str) -> list[str]:
    """Revoke everything ``role`` holds on the ledger's tables, then grant it exactly
    ``REVIEW_PRIVILEGES`` (and the sequences behind their ids); returns the statements run."""
    if engine.dialect.name != "postgresql":
        raise ValueError("database roles are a PostgreSQL ledger's: a SQLite ledger is one file with one user")
    who = _quoted(engine, role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
    ]
    statements += [
        f"GRANT {', '.join(privileges)} ON {_quoted(engine, table)} TO {who}" for table, privileges in REVIEW_PRIVILEGES.items()
    ]
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}")
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    return statements
