"""Accounts, refresh tokens, chat identities, link codes and the LLM usage ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
TIMESTAMP = 64


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(ID), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", name="pk_accounts"),
        sa.UniqueConstraint("email", name="uq_accounts_email"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("family_id", sa.String(ID), nullable=False),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("issued_at", sa.String(TIMESTAMP), nullable=False),
        sa.Column("expires_at", sa.String(TIMESTAMP), nullable=False),
        sa.Column("spent_at", sa.String(TIMESTAMP), nullable=True),
        sa.Column("revoked_at", sa.String(TIMESTAMP), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name="pk_refresh_tokens"),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_learner_id", "refresh_tokens", ["learner_id"])
    op.create_table(
        "learner_identities",
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(ID), nullable=False),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("display_name", sa.String(ID), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("platform", "external_id", name="pk_learner_identities"),
    )
    op.create_index("ix_learner_identities_learner_id", "learner_identities", ["learner_id"])
    op.create_table(
        "link_codes",
        sa.Column("code_hash", sa.String(128), nullable=False),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("expires_at", sa.String(TIMESTAMP), nullable=False),
        sa.Column("used_at", sa.String(TIMESTAMP), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_link_codes"),
    )
    op.create_table(
        "llm_usage",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("learner_id", sa.String(ID), nullable=False),
        sa.Column("session_id", sa.String(ID), nullable=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(ID), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(TIMESTAMP), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_llm_usage"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_llm_usage_learner_id_day", "llm_usage", ["learner_id", "day"])
    op.create_index("ix_llm_usage_day", "llm_usage", ["day"])


def downgrade() -> None:
    op.drop_table("llm_usage")
    op.drop_table("link_codes")
    op.drop_table("learner_identities")
    op.drop_table("refresh_tokens")
    op.drop_table("accounts")
