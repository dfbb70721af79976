"""Chat threads: when a finished session's thread is due to be archived (Discord).

The archive timer lives in the database, so it survives restarts and any bot process can run it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_threads") as batch:
        batch.add_column(sa.Column("archive_at", sa.String(64), nullable=True))
        batch.create_index("ix_chat_threads_archive_at", ["platform", "archive_at"])


def downgrade() -> None:
    with op.batch_alter_table("chat_threads") as batch:
        batch.drop_index("ix_chat_threads_archive_at")
        batch.drop_column("archive_at")
