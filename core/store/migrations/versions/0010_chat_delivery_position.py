"""Chat delivery position: per thread, the last transcript entry delivered and the step shown.

After a restart (or a failed post) a bot delivers whatever follows ``delivered_seq``, so no
feedback recorded while it was down is lost; ``shown`` says which step (or the end) is on screen.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255


def upgrade() -> None:
    with op.batch_alter_table("chat_threads") as batch:
        batch.add_column(
            sa.Column("delivered_seq", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("shown", sa.String(ID), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("chat_threads") as batch:
        batch.drop_column("shown")
        batch.drop_column("delivered_seq")
