"""Alembic's environment for the ledger: always run with a connection given by the caller
(``tasks.migrations.upgrade``), never from a URL in a config file."""

from __future__ import annotations

from alembic import context

from tasks.ledger import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("metadata", Base.metadata),
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
