"""garment versions: the garment content each generation was made from, and why a publication ended

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("garment_sha256", sa.String(length=64), nullable=True))
    op.add_column("publications", sa.Column("reason", sa.Text(), nullable=True))
    # until now a generation was made from its garment row's sha256: the best that is known
    op.execute(
        "UPDATE generations SET garment_sha256 = (SELECT garments.sha256 FROM garments WHERE garments.id = generations.garment_id)"
    )


def downgrade() -> None:
    op.drop_column("publications", "reason")
    op.drop_column("generations", "garment_sha256")
