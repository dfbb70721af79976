"""POOL_PRE_PING pings only connections that sat idle, and not those the raw path's reads and
appends take (they survive a lost connection): one the server dropped is replaced, so the next
request works instead of failing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text

from core.store import engine as store_engine
from core.store.base import NewEvent, StoreUnavailable
from core.store.engine import create_store_engine
from core.store.migrate import migrate
from core.store.sql import SqlStore


@pytest.mark.postgres
async def test_a_connection_dropped_by_the_server_is_replaced_on_checkout(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "PING_IDLE_SECONDS", 0.0)
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=2, max_overflow=0)
    admin = create_store_engine(postgres_url, pooled=False)
    try:
        assert await store.stream_version("s") == 0  # opens a pooled connection, kept
        pid = await _backend_of_the_raw_path(store)
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        # Not pinged (a read that survives a lost connection): found dead, read again on a new one.
        assert await store.stream_version("s") == 0
        assert await _backend_of_the_raw_path(store) != pid
    finally:
        await admin.dispose()
        await store.close()


async def _backend_of_the_raw_path(store: SqlStore) -> int:
    async with store._raw_read() as raw:
        row = await raw.fetchrow("test", "SELECT pg_backend_pid()", ())
    assert row is not None
    return int(row[0])


@pytest.mark.postgres
async def test_a_connection_just_returned_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    pings = 0
    try:
        async with store._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            adapter = raw.dbapi_connection
        original = type(adapter).ping

        def counting_ping(self: object) -> None:
            nonlocal pings
            pings += 1
            original(self)

        monkeypatch.setattr(type(adapter), "ping", counting_ping)
        for _ in range(5):
            await store.stream_version("s")
        assert pings == 0
        monkeypatch.setattr(store_engine, "PING_IDLE_SECONDS", 0.0)
        await store.stream_version("s")  # a read that survives a lost connection: never pinged
        assert pings == 0
        await _backend_of_the_raw_path(store)  # a block that would fail with it: pinged
        assert pings == 1
    finally:
        await store.close()


@pytest.mark.postgres
async def test_an_exhausted_pool_is_store_unavailable_not_a_crash(postgres_url: str) -> None:
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with store._engine.connect():  # the only connection, held
            with pytest.raises(StoreUnavailable, match="no free pooled connection"):
                await store.stream_version("s")
            with pytest.raises(StoreUnavailable, match="no free pooled connection"):
                await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        assert await store.stream_version("s") == 0
    finally:
        await store.close()


@pytest.mark.postgres
async def test_the_raw_path_waits_for_a_pooled_connection_instead_of_opening_overflow(
    postgres_url: str,
) -> None:
    """Hot statements hold a connection for one round trip; beyond POOL_SIZE at once they wait
    for one (up to POOL_TIMEOUT) rather than open an overflow connection that the pool closes
    again as soon as it comes back."""
    await migrate(postgres_url)
    store = SqlStore(postgres_url, pool_size=2, max_overflow=10, pool_timeout=0.3)
    opened = 0

    def on_connect(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(store._engine.sync_engine, "connect", on_connect)
    try:
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        versions = await asyncio.gather(*(store.stream_version("s") for _ in range(40)))
        assert versions == [1] * 40
        assert opened <= 2
        async with store._raw_read(), store._raw_read():  # both slots held
            with pytest.raises(StoreUnavailable, match="no free pooled connection"):
                await store.stream_version("s")
            async with store._engine.connect():  # the cold path still has the overflow
                pass
        assert await store.stream_version("s") == 1
    finally:
        await store.close()
