"""evaluations and backfill decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 13:45:44.189717
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=256), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("current_model_version", sa.String(length=128), nullable=False),
        sa.Column("date_from", sa.String(length=10), nullable=False),
        sa.Column("date_to", sa.String(length=10), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("evaluation_id", sa.String(length=64), nullable=True),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evaluation_id", sa.String(length=64), nullable=False),
        sa.Column("set_name", sa.String(length=128), nullable=False),
        sa.Column("set_sha256", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=256), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.Column("random_weights", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("paired", sa.Integer(), nullable=False),
        sa.Column("unpaired", sa.Integer(), nullable=False),
        sa.Column("ssim", sa.Float(), nullable=True),
        sa.Column("ssim_masked", sa.Float(), nullable=True),
        sa.Column("lpips", sa.Float(), nullable=True),
        sa.Column("lpips_masked", sa.Float(), nullable=True),
        sa.Column("fid", sa.Float(), nullable=True),
        sa.Column("kid", sa.Float(), nullable=True),
        sa.Column("kid_std", sa.Float(), nullable=True),
        sa.Column("seconds_per_image", sa.Float(), nullable=True),
        sa.Column("qc_pass_rate", sa.Float(), nullable=True),
        sa.Column("feature_networks", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evaluation_id", "version", "category", name="uq_evaluation_version_category"),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluations_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_model_version"), ["model_version"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_model_version"))
        batch_op.drop_index(batch_op.f("ix_evaluations_evaluation_id"))

    op.drop_table("evaluations")
    op.drop_table("backfill_decisions")
