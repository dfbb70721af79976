"""Hash chain on game_events and the archived-session register.

Events written before this revision keep a NULL ``event_hash``; ``db verify`` counts them as
unchained. ``archived_sessions`` marks sessions copied to cold storage by ``db archive`` (their
events stay in ``game_events``: events are never deleted).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
TIMESTAMP = 64


def upgrade() -> None:
    with op.batch_alter_table("game_events") as batch:
        batch.add_column(sa.Column("event_hash", sa.String(64), nullable=True))
    op.create_table(
        "archived_sessions",
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("archive", sa.String(ID), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=True),
        sa.Column("archived_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_archived_sessions"),
    )


def downgrade() -> None:
    op.drop_table("archived_sessions")
    with op.batch_alter_table("game_events") as batch:
        batch.drop_column("event_hash")
