"""The review queue of chat grades and the XP adjustments reviews make (issue 14).

* ``review_queue``: one row per chat grade sent to human review (low confidence, provisional, or
  sampled); the review's columns are filled when a person reviews it. Rebuildable from the events.
* ``xp_adjustments``: every change a review made to a grant already held (the ledger's history).

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
TIMESTAMP = 64


def upgrade() -> None:
    op.create_table(
        "review_queue",
        sa.Column("review_id", sa.String(ID), nullable=False),
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("challenge_id", sa.String(ID), nullable=False),
        sa.Column("challenge_version", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(ID), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.Column("reviewer_id", sa.String(ID), nullable=True),
        sa.Column("reviewed_at", sa.String(TIMESTAMP), nullable=True),
        sa.Column("review", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("review_id", name="pk_review_queue"),
    )
    op.create_index(
        "ix_review_queue_challenge_id_created_at", "review_queue", ["challenge_id", "created_at"]
    )
    op.create_table(
        "xp_adjustments",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("challenge_id", sa.String(ID), nullable=False),
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("xp_change", sa.Integer(), nullable=False),
        sa.Column("xp_after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("adjusted_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_xp_adjustments"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_xp_adjustments_learner_id", "xp_adjustments", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_xp_adjustments_learner_id", table_name="xp_adjustments")
    op.drop_table("xp_adjustments")
    op.drop_index("ix_review_queue_challenge_id_created_at", table_name="review_queue")
    op.drop_table("review_queue")
