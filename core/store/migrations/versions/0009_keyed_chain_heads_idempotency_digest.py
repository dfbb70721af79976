"""Keyed event chain, stream heads and registrations, idempotency digests, 64-bit positions.

* ``game_events.key_id``: the id of the HMAC key of ``event_hash`` (NULL: unkeyed SHA-256).
* ``stream_heads`` / ``stream_registry``: each stream's last version and digest, and the MAC
  chains registering every stream (see core/store/integrity.py). Streams already stored are given
  an unkeyed head and registration here, so ``db verify`` can tell a later deletion from history.
* ``idempotency_keys.request_digest``: what the key was first used for.
* PostgreSQL: ``game_events.position`` and ``projection_checkpoints.position`` become BIGINT,
  since a position is now derived from the writing transaction's id (no global append lock).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.store.integrity import RegistryHead, new_head, registry_bucket

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 255
KEY_ID = 32
DIGEST = 64


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("game_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(KEY_ID), nullable=True))
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("request_digest", sa.String(DIGEST), nullable=True))
    if bind.dialect.name == "postgresql":
        op.alter_column("game_events", "position", type_=sa.BigInteger())
        op.execute("ALTER SEQUENCE IF EXISTS game_events_position_seq AS BIGINT")
        op.alter_column("projection_checkpoints", "position", type_=sa.BigInteger())
    heads = op.create_table(
        "stream_heads",
        sa.Column("session_id", sa.String(ID), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.String(DIGEST), nullable=True),
        sa.Column("key_id", sa.String(KEY_ID), nullable=True),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("registered_seq", sa.Integer(), nullable=False),
        sa.Column("registered_key_id", sa.String(KEY_ID), nullable=True),
        sa.Column("registration_mac", sa.String(DIGEST), nullable=False),
        sa.Column("head_mac", sa.String(DIGEST), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_stream_heads"),
        sa.UniqueConstraint(
            "bucket", "registered_seq", name="uq_stream_heads_bucket_registered_seq"
        ),
    )
    registry = op.create_table(
        "stream_registry",
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_mac", sa.String(DIGEST), nullable=True),
        sa.Column("key_id", sa.String(KEY_ID), nullable=True),
        sa.Column("mac", sa.String(DIGEST), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_stream_registry"),
    )
    _backfill_heads(bind, heads, registry)


def _backfill_heads(bind: sa.Connection, heads: sa.Table, registry: sa.Table) -> None:
    """Give every stream already stored an unkeyed head and registration (no key is at hand in a
    migration; the next keyed append re-MACs the head)."""
    events = sa.table(
        "game_events",
        sa.column("session_id", sa.String),
        sa.column("sequence_number", sa.Integer),
        sa.column("event_hash", sa.String),
    )
    last = (
        sa.select(events.c.session_id, sa.func.max(events.c.sequence_number).label("version"))
        .group_by(events.c.session_id)
        .subquery()
    )
    query = (
        sa.select(last.c.session_id, last.c.version, events.c.event_hash)
        .join(
            events,
            (events.c.session_id == last.c.session_id)
            & (events.c.sequence_number == last.c.version),
        )
        .order_by(last.c.session_id)
    )
    tails: dict[int, RegistryHead] = {}
    head_rows = []
    for row in bind.execute(query):
        head, tail = new_head(
            None,
            row.session_id,
            row.version,
            row.event_hash,
            registered=tails.get(registry_bucket(row.session_id)),
            existing=None,
        )
        assert tail is not None
        tails[tail.bucket] = tail
        head_rows.append(
            {
                "session_id": head.session_id,
                "version": head.version,
                "event_hash": head.event_hash,
                "key_id": head.key_id,
                "bucket": head.bucket,
                "registered_seq": head.registered_seq,
                "registered_key_id": head.registered_key_id,
                "registration_mac": head.registration_mac,
                "head_mac": head.head_mac,
            }
        )
    if head_rows:
        op.bulk_insert(heads, head_rows)
    if tails:
        op.bulk_insert(
            registry,
            [
                {
                    "bucket": t.bucket,
                    "seq": t.seq,
                    "last_mac": t.last_mac,
                    "key_id": t.key_id,
                    "mac": t.mac,
                }
                for t in tails.values()
            ],
        )


def downgrade() -> None:
    op.drop_table("stream_registry")
    op.drop_table("stream_heads")
    # Positions stay BIGINT: those written since 0009 no longer fit an INTEGER.
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("request_digest")
    with op.batch_alter_table("game_events") as batch:
        batch.drop_column("key_id")
