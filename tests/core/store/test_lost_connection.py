"""A PostgreSQL connection that dies under a request (``pg_terminate_backend`` here; a restart, a
failover or a proxy alike) fails neither the request nor applies its action twice: a read reads
again on a fresh connection, an append finds out whether it committed before it is sent again
(``core.store.sql_append``, "A connection that dies under the call")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import astuple
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from core.store import engine as store_engine
from core.store.base import AppendResult, NewEvent, StoreUnavailable
from core.store.migrate import migrate
from core.store.sql import SqlStore
from core.store.sql_heads import STREAM_LOCK_SEED
from core.store.sql_raw import STATEMENTS, PostgresRaw, Row
from tests.waiting import until

pytestmark = pytest.mark.postgres

T0 = "2026-01-01T00:00:00+00:00"
# The backends of this database (but the asking one) waiting for a lock, and on what.
_WAITING = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND wait_event = $1"
)


def noted(n: int) -> NewEvent:
    return NewEvent("noted", {"n": n})


@pytest.fixture
async def admin(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own, outside the store: it holds locks and terminates backends."""
    await migrate(postgres_url)
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    yield connection
    await connection.close()


@pytest.fixture
async def store(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SqlStore]:
    # No ping of idle connections: the statement is what finds its connection dead.
    monkeypatch.setattr(store_engine, "PING_IDLE_SECONDS", 1e9)
    store = SqlStore(postgres_url, pool_size=2, max_overflow=0)
    yield store
    await store.close()


async def _terminate(admin: asyncpg.Connection, pid: int) -> None:
    """Terminate backend ``pid`` and wait until it has exited."""
    assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)


async def _waiting(admin: asyncpg.Connection, event: str) -> list[asyncpg.Record]:
    """The backends waiting for a lock of kind ``event``, as of now (inside a transaction,
    ``pg_stat_activity`` shows what it showed first unless its snapshot is cleared)."""
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    return await admin.fetch(_WAITING, event)


async def _events(store: SqlStore, stream: str) -> list[tuple[int, Any]]:
    return [(event.version, event.data["n"]) for event in await store.read_stream(stream)]


async def test_a_read_whose_backend_is_terminated_mid_statement_reads_again(
    store: SqlStore, admin: asyncpg.Connection
) -> None:
    await store.append("s", [noted(1)], 0, recorded_at=T0)
    async with admin.transaction():
        # The read waits for this lock, on its backend: terminated there, mid-statement.
        await admin.execute("LOCK TABLE game_events IN ACCESS EXCLUSIVE MODE")
        read = asyncio.create_task(store.read_stream("s"))
        [pid] = await until(lambda: _waiting(admin, "relation"), "the read to wait")
        await _terminate(admin, pid["pid"])
        # The read again, on a fresh connection, waits for the lock too (not failed).
        await until(lambda: read.done() or _waiting(admin, "relation"), "the read again to wait")
        assert not read.done()
    assert [(e.version, e.data["n"]) for e in await read] == [(1, 1)]


async def test_an_append_whose_backend_is_terminated_before_it_commits_is_sent_again(
    store: SqlStore, admin: asyncpg.Connection
) -> None:
    await store.append("s", [noted(1)], 0, recorded_at=T0)
    lock = "SELECT pg_advisory_lock(hashtextextended('s', $1))"
    await admin.execute(lock, STREAM_LOCK_SEED)  # the append's stream lock
    try:
        append = asyncio.create_task(
            store.append("s", [noted(2)], 1, idempotency_key="k2", recorded_at=T0)
        )
        [pid] = await until(lambda: _waiting(admin, "advisory"), "the append to wait")
        await _terminate(admin, pid["pid"])  # its call rolled back: nothing committed
        await until(lambda: append.done() or _waiting(admin, "advisory"), "the append again")
        assert not append.done()
    finally:
        await admin.execute("SELECT pg_advisory_unlock_all()")
    assert await append == AppendResult(2, 2, request_digest=None)
    assert await _events(store, "s") == [(1, 1), (2, 2)]
    assert await store.find_idempotent("s", "k2") == AppendResult(2, 2)


class _AnswerLost:
    """Patches ``PostgresRaw.fetchrow`` so that the first ``kind`` statement runs (and commits,
    for an append), then its backend is terminated before the client has its answer: the
    statement's caller gets the error of a connection that died under it."""

    def __init__(self, admin: asyncpg.Connection, kind: str, times: int = 1) -> None:
        self.admin, self.kind, self.times = admin, kind, times
        self.original = PostgresRaw.fetchrow  # another _AnswerLost's, when installed
        self.lost: list[int] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> _AnswerLost:
        async def fetchrow(
            raw: PostgresRaw, kind: str, text: str, args: Sequence[Any]
        ) -> Row | None:
            return await self(raw, kind, text, args)

        monkeypatch.setattr(PostgresRaw, "fetchrow", fetchrow)
        return self

    async def __call__(
        self, raw: PostgresRaw, kind: str, text: str, args: Sequence[Any]
    ) -> Row | None:
        row = await self.original(raw, kind, text, args)
        if kind == self.kind and len(self.lost) < self.times:
            pid = raw.driver.get_server_pid()
            self.lost.append(pid)
            await _terminate(self.admin, pid)
            await self.original(raw, "test", "SELECT 1", ())  # the dead connection's error
            raise AssertionError("the terminated connection answered")
        return row


async def test_an_append_that_committed_before_its_backend_died_is_not_applied_twice(
    store: SqlStore, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A learner's "continue" (one event after version 1) commits, and its answer is lost with
    its connection: it succeeds once, not twice, and the process's head of the stream is right
    (the next append is one call, not a refused one and another)."""
    await store.append("s", [noted(1)], 0, recorded_at=T0)
    lost = _AnswerLost(admin, "append").install(monkeypatch)

    result = await store.append("s", [noted(2)], 1, idempotency_key="k2", recorded_at=T0)

    assert len(lost.lost) == 1
    assert result == AppendResult(2, 2)  # the written result, not a duplicate's
    assert await _events(store, "s") == [(1, 1), (2, 2)]
    assert await store.find_idempotent("s", "k2") == AppendResult(2, 2)
    calls = STATEMENTS["append"]
    await store.append("s", [noted(3)], 2, recorded_at=T0)
    assert STATEMENTS["append"] == calls + 1
    assert await _events(store, "s") == [(1, 1), (2, 2), (3, 3)]


async def test_a_create_that_committed_before_its_backend_died_keeps_the_bucket_tail_right(
    store: SqlStore, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.append("seed", [noted(0)], 0, recorded_at=T0)  # the tails read, once
    lost = _AnswerLost(admin, "append").install(monkeypatch)

    assert await store.append("new", [noted(1)], 0, recorded_at=T0) == AppendResult(1, 1)

    assert len(lost.lost) == 1
    assert await _events(store, "new") == [(1, 1)]
    # The tail this process keeps for each bucket is the database's: the create's own, settled
    # (the registry directory, row -64, is no bucket's tail).
    rows = await admin.fetch(
        "SELECT bucket, seq, last_mac, key_id, mac FROM stream_registry WHERE bucket >= 0"
    )
    tails = {row[0]: tuple(row) for row in rows}
    assert {bucket: astuple(tail) for bucket, tail in store._tails.items()} == tails


async def test_an_append_whose_connection_dies_twice_fails_unavailable_and_writes_once(
    store: SqlStore, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The append commits and its answer is lost; so is the answer of the tip read after it:
    the request fails (503), and the learner's retry with its key finds the append done."""
    await store.append("s", [noted(1)], 0, recorded_at=T0)
    lost = _AnswerLost(admin, "append").install(monkeypatch)
    lost_tip = _AnswerLost(admin, "tip").install(monkeypatch)

    with pytest.raises(StoreUnavailable):
        await store.append("s", [noted(2)], 1, idempotency_key="k2", recorded_at=T0)

    assert len(lost.lost) == 1 and len(lost_tip.lost) == 1
    retried = await store.append("s", [noted(2)], 1, idempotency_key="k2", recorded_at=T0)
    assert retried == AppendResult(2, 2, duplicate=True)
    assert await _events(store, "s") == [(1, 1), (2, 2)]


async def test_an_append_that_commits_only_after_its_tip_was_read_is_not_applied_twice(
    store: SqlStore, admin: asyncpg.Connection, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dead connection's call is still waiting on the server when the tip is read (its
    backend has not finished): the tip says "not committed", the call is sent again and waits
    behind the first, which then commits. The second is refused with the head the first wrote:
    the append's own, so it succeeded, once."""
    await store.append("s", [noted(1)], 0, recorded_at=T0)
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    elsewhere = await asyncpg.connect(dsn)  # where the lost call runs, late
    killer = await asyncpg.connect(dsn)  # the patch's own (the test's polls use ``admin``)
    original = PostgresRaw.fetchrow
    late: list[asyncio.Task[Any]] = []

    async def fetchrow(raw: PostgresRaw, kind: str, text: str, args: Sequence[Any]) -> Row | None:
        if kind == "append" and not late:
            late.append(asyncio.create_task(elsewhere.fetchrow(text, *args)))
            await until(lambda: _waiting(killer, "advisory"), "the lost call to wait")
            await _terminate(killer, raw.driver.get_server_pid())
            await original(raw, "test", "SELECT 1", ())  # the dead connection's error
        return await original(raw, kind, text, args)

    async def both_wait_or_failed() -> bool:
        return append.done() or len(await _waiting(admin, "advisory")) == 2

    monkeypatch.setattr(PostgresRaw, "fetchrow", fetchrow)
    lock = "SELECT pg_advisory_lock(hashtextextended('s', $1))"
    try:
        await admin.execute(lock, STREAM_LOCK_SEED)  # the append's stream lock
        append = asyncio.create_task(store.append("s", [noted(2)], 1, recorded_at=T0))
        try:
            await until(both_wait_or_failed, "the call sent again to wait")
        finally:
            await admin.execute("SELECT pg_advisory_unlock_all()")
        result = await append
    finally:
        first = await asyncio.gather(*late, return_exceptions=True)
        await elsewhere.close()
        await killer.close()
    assert result == AppendResult(2, 2)
    assert first[0][0][0] == "written"  # the lost call's own outcome
    assert await _events(store, "s") == [(1, 1), (2, 2)]
