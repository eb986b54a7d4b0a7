"""A review decision keeps the generation's reason from before it (an undo restores it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_decisions") as table:
        table.add_column(sa.Column("reason_before", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_decisions") as table:
        table.drop_column("reason_before")
