"""What every SQL writer of events shares: the per-stream lock, positions, and stream heads.

See ``core.store.sql_events`` for why positions come from transaction ids on PostgreSQL, and
``core.store.integrity`` for heads and registrations.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, literal, select, text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.integrity import (
    RegistryHead,
    StreamHead,
    new_head,
    registry_head_mac,
)
from core.store.sql_base import SqlStoreBase
from core.store.tables import stream_heads, stream_registry

# Key of the global PostgreSQL advisory lock used only when ``serialize_appends`` is on.
APPEND_LOCK_KEY = 0x43435F4150  # "CC_AP"
_APPEND_LOCK = literal(APPEND_LOCK_KEY, BigInteger)
# Seed of the per-stream advisory lock key (hashtextextended(stream_id, seed)).
STREAM_LOCK_SEED = 0x43435F5354  # "CC_ST"
# Positions per transaction on PostgreSQL: position = (transaction id << POSITION_SHIFT) + n.
POSITION_SHIFT = 20
_XID = "pg_current_xact_id()::text::bigint"


# Read on every append: built once (bound parameter), not per call.
_HEAD = select(stream_heads).where(stream_heads.c.session_id == bindparam("stream_id"))


class SqlChainWriter(SqlStoreBase):
    """Helpers for appending events: locks, positions and the stream head (SQLite, PostgreSQL)."""

    async def _lock_stream(self, connection: AsyncConnection, stream_id: str) -> None:
        """PostgreSQL: serialise writers of this one stream until the transaction ends (SQLite
        writers are serialised already)."""
        if not self._is_postgres:
            return
        if self._serialize_appends:
            await connection.execute(select(func.pg_advisory_xact_lock(_APPEND_LOCK)))
            return
        lock_key = func.hashtextextended(stream_id, literal(STREAM_LOCK_SEED, BigInteger))
        await connection.execute(select(func.pg_advisory_xact_lock(lock_key)))

    async def _positions(self, connection: AsyncConnection, count: int) -> list[int] | None:
        """PostgreSQL: the positions of ``count`` events written by this transaction (None on
        SQLite, where AUTOINCREMENT assigns them). Successive calls in one transaction continue
        where the last one stopped."""
        if not self._is_postgres:
            return None
        xid = int((await connection.execute(text(f"SELECT {_XID}"))).scalar_one())
        return next_positions(connection.info, xid, count)

    async def _record_head(
        self, connection: AsyncConnection, stream_id: str, version: int, event_hash: str | None
    ) -> None:
        """Move the stream's head to ``version`` (registering the stream when it is new)."""
        key = self._chain_keys.current
        row = (await connection.execute(_HEAD, {"stream_id": stream_id})).first()
        existing = None if row is None else _stream_head(row)
        tail = None
        if existing is None:
            tail = await self._lock_registry(connection, self._buckets.choose())
        head, new_tail = new_head(
            key,
            stream_id,
            version,
            event_hash,
            registered=tail,
            existing=existing,
            buckets=self._directory,
        )
        values = asdict(head)
        await connection.execute(self._upsert_by_session(stream_heads, values), values)
        if new_tail is not None:
            await connection.execute(
                stream_registry.update()
                .where(stream_registry.c.bucket == new_tail.bucket)
                .values(
                    seq=new_tail.seq,
                    last_mac=new_tail.last_mac,
                    key_id=new_tail.key_id,
                    mac=new_tail.mac,
                )
            )

    async def _lock_registry(self, connection: AsyncConnection, bucket: int) -> RegistryHead:
        """Return the tail of ``bucket``'s registration chain, locked until the transaction ends."""
        await connection.execute(
            self._insert(stream_registry)
            .values(
                bucket=bucket,
                seq=0,
                last_mac=None,
                key_id=None,
                mac=registry_head_mac(None, bucket, 0, None),
            )
            .on_conflict_do_nothing(index_elements=[stream_registry.c.bucket])
        )
        query = select(stream_registry).where(stream_registry.c.bucket == bucket)
        if self._is_postgres:
            query = query.with_for_update()
        row = (await connection.execute(query)).one()
        return RegistryHead(row.bucket, row.seq, row.last_mac, row.key_id, row.mac)

    async def stream_heads(self) -> dict[str, StreamHead]:
        """Return every recorded stream head by stream id."""
        async with self._transaction() as connection:
            rows = (await connection.execute(select(stream_heads))).all()
        return {row.session_id: _stream_head(row) for row in rows}

    async def registry_heads(self) -> dict[int, RegistryHead]:
        """Return the tail of every registration chain by bucket, and the registry directory."""
        async with self._transaction() as connection:
            rows = (await connection.execute(select(stream_registry))).all()
        return {
            row.bucket: RegistryHead(row.bucket, row.seq, row.last_mac, row.key_id, row.mac)
            for row in rows
        }


def next_positions(info: dict[Any, Any], xid: int, count: int) -> list[int]:
    """The positions of the next ``count`` events written by transaction ``xid`` (PostgreSQL).

    ``info`` is the pooled connection's info dict: it outlives the transaction, so the counter it
    keeps is keyed by the transaction id it was started for.
    """
    if count >= 1 << POSITION_SHIFT:
        raise ValueError(f"at most {(1 << POSITION_SHIFT) - 1} events per transaction")
    counter = info.get("curiouscore_positions")
    first = counter[1] if counter and counter[0] == xid else (xid << POSITION_SHIFT) + 1
    info["curiouscore_positions"] = (xid, first + count)
    return list(range(first, first + count))


def _stream_head(row: Row[Any]) -> StreamHead:
    return StreamHead(
        session_id=row.session_id,
        version=row.version,
        event_hash=row.event_hash,
        key_id=row.key_id,
        bucket=row.bucket,
        registered_seq=row.registered_seq,
        registered_key_id=row.registered_key_id,
        registration_mac=row.registration_mac,
        head_mac=row.head_mac,
    )
