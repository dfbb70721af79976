"""SQLite's raw connections stay checked out between uses, one holder at a time."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event

from core.store.base import NewEvent
from core.store.engine import create_store_engine
from core.store.migrate import migrate
from core.store.sql import SqlStore
from core.store.sqlite_kept import KEEP, KeptConnections
from tests.waiting import until


async def _url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    return url


def _count_checkouts(store: SqlStore) -> list[int]:
    seen = [0]

    def on_checkout(*_: object) -> None:
        seen[0] += 1

    event.listen(store._engine.sync_engine, "checkout", on_checkout)
    return seen


async def test_requests_reuse_kept_connections_instead_of_the_pool(tmp_path: Path) -> None:
    store = SqlStore(await _url(tmp_path))
    checkouts = _count_checkouts(store)
    try:
        for n in range(20):
            await store.append(f"s{n}", [NewEvent("SessionCreated", {"n": n})], 0, recorded_at="t")
            assert [e.version for e in await store.read_stream(f"s{n}")] == [1]
            assert await store.get_token_state("nobody") is None
        # One connection served all 60 raw statements' holders: the pool saw one checkout.
        assert checkouts[0] == 1
        assert store._engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    finally:
        await store.close()


async def test_a_read_while_an_append_waits_for_the_lock_gets_its_own_connection(
    tmp_path: Path,
) -> None:
    url = await _url(tmp_path)
    store = SqlStore(url, sqlite_busy_timeout_ms=30_000)
    await store.append("done", [NewEvent("SessionCreated", {"n": 0})], 0, recorded_at="t")
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        append = asyncio.create_task(
            store.append("s1", [NewEvent("SessionCreated", {"n": 1})], 0, recorded_at="t")
        )
        await until(lambda: store._engine.pool.checkedout() >= 1 and not store._kept, "a hold")  # type: ignore[attr-defined]
        # The waiting append holds the kept connection; the read checks out another one.
        assert [e.version for e in await store.read_stream("done")] == [1]
        assert store._engine.pool.checkedout() == 2  # type: ignore[attr-defined]
        assert not append.done()
        other.execute("COMMIT")
        await asyncio.wait_for(append, 30)
        assert [e.version for e in await store.read_stream("s1")] == [1]
        assert 1 <= len(store._kept) <= KEEP  # type: ignore[arg-type]
    finally:
        other.close()
        await store.close()


async def test_a_failed_block_or_an_open_transaction_goes_back_to_the_pool(
    tmp_path: Path,
) -> None:
    engine = create_store_engine(await _url(tmp_path))
    kept = KeptConnections(engine, keep=2)
    try:

        async def fail() -> None:
            async with kept.connection() as raw:
                await raw.begin()
                raise RuntimeError("the block failed")

        with pytest.raises(RuntimeError):
            await fail()
        assert len(kept) == 0 and engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        async with kept.connection() as raw:
            await raw.begin()  # left open: not kept, the pool's reset rolls it back
        assert len(kept) == 0 and engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        async with (
            kept.connection() as first,
            kept.connection() as second,
            kept.connection() as third,
        ):
            assert len({id(first), id(second), id(third)}) == 3
        assert len(kept) == 2 and engine.pool.checkedout() == 2  # type: ignore[attr-defined]
        async with kept.connection() as raw:
            assert await raw.fetchrow("test", "SELECT 1", ()) == (1,)
        await kept.close()
        assert len(kept) == 0 and engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await kept.close()
        await engine.dispose()


async def test_fetchrow_keeps_its_connection_and_gives_a_failed_one_back(tmp_path: Path) -> None:
    """The access check's read (``KeptConnections.fetchrow``) holds a connection as
    ``connection()`` does: kept after a row, back to the pool after an error."""
    engine = create_store_engine(await _url(tmp_path))
    kept = KeptConnections(engine, keep=2)
    try:
        assert await kept.fetchrow("test", "SELECT 1", ()) == (1,)
        assert len(kept) == 1 and engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        assert await kept.fetchrow("test", "SELECT 1 WHERE 0", ()) is None
        assert len(kept) == 1 and engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="no such table"):
            await kept.fetchrow("test", "SELECT * FROM missing", ())
        assert len(kept) == 0 and engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert await kept.fetchrow("test", "SELECT 2", ()) == (2,)
    finally:
        await kept.close()
        await engine.dispose()
