"""Chat threads (a Discord or Slack thread holds one session) and delivery de-duplication.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
TIMESTAMP = 64


def upgrade() -> None:
    op.create_table(
        "chat_threads",
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("scope_id", sa.String(ID), nullable=False),
        sa.Column("thread_id", sa.String(ID), nullable=False),
        sa.Column("channel_id", sa.String(ID), nullable=False),
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("platform", "scope_id", "thread_id", name="pk_chat_threads"),
        sa.UniqueConstraint("session_id", name="uq_chat_threads_session_id"),
    )
    op.create_table(
        "chat_deliveries",
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("delivery_id", sa.String(ID), nullable=False),
        sa.Column("received_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("platform", "delivery_id", name="pk_chat_deliveries"),
    )


def downgrade() -> None:
    op.drop_table("chat_deliveries")
    op.drop_table("chat_threads")
