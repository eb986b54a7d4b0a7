"""QC suite versions and reviewers' labels: the version that judged each generation, a
rejection's failure mode, and the promotions that made a suite version current

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("qc_suite_version", sa.Integer(), nullable=True))
    op.add_column("review_decisions", sa.Column("failure_mode", sa.String(length=64), nullable=True))
    op.create_table(
        "qc_suite_promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_version", sa.Integer(), nullable=False),
        sa.Column("suite_sha256", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # a generation judged before this revision: its QC rows' thresholds begin with "v{version}: "
    bind = op.get_bind()
    judged = bind.execute(sa.text("SELECT DISTINCT generation_id, threshold FROM qc_results WHERE threshold LIKE 'v%:%'"))
    versions = {
        gid: int(threshold[1 : threshold.index(":")])
        for gid, threshold in judged
        if threshold[1 : threshold.index(":")].isdigit()
    }
    for generation_id, version in versions.items():
        bind.execute(
            sa.text("UPDATE generations SET qc_suite_version = :version WHERE generation_id = :id"),
            {"version": version, "id": generation_id},
        )


def downgrade() -> None:
    op.drop_table("qc_suite_promotions")
    op.drop_column("review_decisions", "failure_mode")
    op.drop_column("generations", "qc_suite_version")
