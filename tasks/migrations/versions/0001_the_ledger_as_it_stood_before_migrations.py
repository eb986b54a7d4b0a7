"""the ledger as it stood before migrations

Revision ID: 0001
Revises: (none: the first)
Create Date: 2026-12-02 13:45:40.330099
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "garments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("drop_date", sa.String(length=10), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("source_key", sa.String(length=1024), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("drop_date", "sku", name="uq_garment_drop_sku"),
    )
    with op.batch_alter_table("garments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_garments_drop_date"), ["drop_date"], unique=False)

    op.create_table(
        "model_photos",
        sa.Column("photo_id", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_key", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("backends", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    op.create_table(
        "review_sessions",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256"),
    )
    with op.batch_alter_table("review_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "review_sign_in_attempts",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_table(
        "run_leases",
        sa.Column("drop_date", sa.String(length=10), nullable=False),
        sa.Column("holder", sa.String(length=256), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("drop_date"),
    )
    op.create_table(
        "garment_fingerprints",
        sa.Column("garment_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("original", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["garment_id"],
            ["garments.id"],
        ),
        sa.PrimaryKeyConstraint("garment_id"),
    )
    op.create_table(
        "generations",
        sa.Column("generation_id", sa.String(length=64), nullable=False),
        sa.Column("garment_id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.String(length=128), nullable=False),
        sa.Column("drop_date", sa.String(length=10), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("object_key", sa.String(length=1024), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["garment_id"],
            ["garments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["model_photos.photo_id"],
        ),
        sa.PrimaryKeyConstraint("generation_id"),
    )
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generations_drop_date"), ["drop_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_generations_garment_id"), ["garment_id"], unique=False)

    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("generation_id", sa.String(length=64), nullable=False),
        sa.Column("drop_date", sa.String(length=10), nullable=False),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("photo_id", sa.String(length=128), nullable=False),
        sa.Column("storefront_key", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generations.generation_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("generation_id", name="uq_publication_generation"),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publications_drop_date"), ["drop_date"], unique=False)

    op.create_table(
        "qc_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("generation_id", sa.String(length=64), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generations.generation_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("generation_id", "check", name="uq_qc_generation_check"),
    )
    with op.batch_alter_table("qc_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qc_results_generation_id"), ["generation_id"], unique=False)

    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("generation_id", sa.String(length=64), nullable=False),
        sa.Column("drop_date", sa.String(length=10), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["generations.generation_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_decisions_drop_date"), ["drop_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_decisions_generation_id"), ["generation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_decisions_generation_id"))
        batch_op.drop_index(batch_op.f("ix_review_decisions_drop_date"))

    op.drop_table("review_decisions")
    with op.batch_alter_table("qc_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qc_results_generation_id"))

    op.drop_table("qc_results")
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publications_drop_date"))

    op.drop_table("publications")
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generations_garment_id"))
        batch_op.drop_index(batch_op.f("ix_generations_drop_date"))

    op.drop_table("generations")
    op.drop_table("garment_fingerprints")
    op.drop_table("run_leases")
    op.drop_table("review_sign_in_attempts")
    with op.batch_alter_table("review_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_sessions_expires_at"))

    op.drop_table("review_sessions")
    op.drop_table("model_photos")
    with op.batch_alter_table("garments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_garments_drop_date"))

    op.drop_table("garments")
