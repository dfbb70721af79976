"""SQLite statements run on the event loop; waiting for another process's write lock does not."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from core.store.base import NewEvent, StoreUnavailable
from core.store.migrate import migrate
from core.store.sql import SqlStore
from tests.waiting import until


async def _store(tmp_path: Path, busy_timeout_ms: int) -> tuple[SqlStore, Path]:
    path = tmp_path / "store.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    return SqlStore(url, sqlite_busy_timeout_ms=busy_timeout_ms), path


async def test_an_append_waits_for_another_writer_off_the_loop(tmp_path: Path) -> None:
    store, path = await _store(tmp_path, busy_timeout_ms=30_000)
    other = sqlite3.connect(path, isolation_level=None)  # another process's connection
    try:
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        append = asyncio.create_task(
            store.append("s1", [NewEvent("SessionCreated", {"n": 1})], 0, recorded_at="t")
        )
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)  # a turn of the loop, no time

        ticking = asyncio.create_task(ticker())
        # The loop keeps serving other work while the append waits for the lock.
        await until(lambda: ticks >= 20, "the event loop to run while the append waits")
        assert not append.done()
        other.execute("COMMIT")
        result = await asyncio.wait_for(append, 30)
        ticking.cancel()
        assert (result.first_version, result.last_version) == (1, 1)
        assert [event.version for event in await store.read_stream("s1")] == [1]
    finally:
        other.close()
        await store.close()


async def test_a_lock_held_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    store, path = await _store(tmp_path, busy_timeout_ms=50)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.append("s1", [NewEvent("SessionCreated", {})], 0, recorded_at="t")
        other.execute("ROLLBACK")
        # Nothing was written, and the store works once the lock is gone.
        assert await store.read_stream("s1") == []
        await store.append("s1", [NewEvent("SessionCreated", {})], 0, recorded_at="t")
        assert await store.stream_version("s1") == 1
    finally:
        other.close()
        await store.close()


async def test_reads_run_while_another_process_writes(tmp_path: Path) -> None:
    store, path = await _store(tmp_path, busy_timeout_ms=30_000)
    await store.append("s1", [NewEvent("SessionCreated", {})], 0, recorded_at="t")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM idempotency_keys")
        # WAL: a reader is not blocked by a writer.
        assert await store.stream_version("s1") == 1
        async with store._read() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
        other.execute("ROLLBACK")
    finally:
        other.close()
        await store.close()
