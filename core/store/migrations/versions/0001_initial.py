"""Initial schema: event log, snapshots, idempotency keys, challenge versions, learners, read models.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the lengths in core/store/tables.py: a migration never imports live models.
ID = 255
TIMESTAMP = 64


def upgrade() -> None:
    op.create_table(
        "game_events",
        sa.Column("position", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(ID), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_game_events"),
        sa.UniqueConstraint(
            "session_id", "sequence_number", name="uq_game_events_session_id_sequence_number"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_game_events_session_id", "game_events", ["session_id"])
    op.create_index("ix_game_events_sequence_number", "game_events", ["sequence_number"])

    op.create_table(
        "session_snapshots",
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_session_snapshots"),
    )
    op.create_index("ix_session_snapshots_session_id", "session_snapshots", ["session_id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("key", sa.String(ID), nullable=False),
        sa.Column("first_version", sa.Integer(), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "key", name="pk_idempotency_keys"),
    )

    op.create_table(
        "challenge_versions",
        sa.Column("challenge_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(ID), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("challenge_id", "version", name="pk_challenge_versions"),
    )

    op.create_table(
        "learners",
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("display_name", sa.String(ID), nullable=False),
        sa.Column("role", sa.String(ID), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", name="pk_learners"),
    )

    op.create_table(
        "session_index",
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("challenge_id", sa.String(ID), nullable=False),
        sa.Column("challenge_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(ID), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.Column("updated_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_session_index"),
    )
    op.create_index("ix_session_index_learner_id", "session_index", ["learner_id"])

    op.create_table(
        "xp_grants",
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("challenge_id", sa.String(ID), nullable=False),
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("xp", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", "challenge_id", name="pk_xp_grants"),
    )


def downgrade() -> None:
    op.drop_table("xp_grants")
    op.drop_index("ix_session_index_learner_id", table_name="session_index")
    op.drop_table("session_index")
    op.drop_table("learners")
    op.drop_table("challenge_versions")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_session_snapshots_session_id", table_name="session_snapshots")
    op.drop_table("session_snapshots")
    op.drop_index("ix_game_events_sequence_number", table_name="game_events")
    op.drop_index("ix_game_events_session_id", table_name="game_events")
    op.drop_table("game_events")
