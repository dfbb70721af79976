"""Slack OAuth installations and one-time OAuth states (multi-workspace installs).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
TIMESTAMP = 64


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("enterprise_id", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("user_id", sa.String(ID), nullable=False),
        sa.Column("installed_at", sa.String(TIMESTAMP), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "enterprise_id", "team_id", "user_id", name="pk_slack_installations"
        ),
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state", sa.String(ID), nullable=False),
        sa.Column("expires_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("state", name="pk_slack_oauth_states"),
    )


def downgrade() -> None:
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_installations")
