"""look generations (full-outfit images)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 23:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "look_generations",
        sa.Column("generation_id", sa.String(length=64), nullable=False),
        sa.Column("look_id", sa.String(length=32), nullable=False),
        sa.Column("drop_date", sa.String(length=10), nullable=False),
        sa.Column("photo_id", sa.String(length=128), nullable=False),
        sa.Column("upper_sku", sa.String(length=128), nullable=False),
        sa.Column("upper_garment_sha256", sa.String(length=64), nullable=False),
        sa.Column("lower_sku", sa.String(length=128), nullable=False),
        sa.Column("lower_garment_sha256", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("looks_model_version", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("failed_checks", sa.JSON(), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("generation_id"),
    )
    op.create_index(op.f("ix_look_generations_drop_date"), "look_generations", ["drop_date"], unique=False)
    op.create_index(op.f("ix_look_generations_look_id"), "look_generations", ["look_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_look_generations_look_id"), table_name="look_generations")
    op.drop_index(op.f("ix_look_generations_drop_date"), table_name="look_generations")
    op.drop_table("look_generations")
