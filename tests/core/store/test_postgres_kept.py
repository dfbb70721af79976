"""The raw path's kept PostgreSQL connections (``core.store.postgres_kept``): reused without a pool
trip, at most ``POOL_SIZE`` of them, lent back to SQLAlchemy when it needs one, a broken one
replaced, waiters served in turn, and all of them closed with the store."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.store import engine as store_engine
from core.store.base import ConcurrencyError, NewEvent
from core.store.engine import create_store_engine
from core.store.migrate import migrate
from core.store.postgres_kept import KeptPostgres
from core.store.sql import SqlStore
from tests.waiting import until

pytestmark = pytest.mark.postgres

_PID = "SELECT pg_backend_pid()"
_OTHER_BACKENDS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
async def admin(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(postgres_url)
    engine = create_store_engine(postgres_url, pooled=False)
    yield engine
    await engine.dispose()


async def _scalar(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar_one())


async def _backend(store: SqlStore) -> int:
    async with store._raw_read() as raw:
        row = await raw.fetchrow("test", _PID, ())
    assert row is not None
    return int(row[0])


def _count_connects(store: SqlStore) -> list[int]:
    opened = [0]

    def on_connect(*_: object) -> None:
        opened[0] += 1

    event.listen(store._engine.sync_engine, "connect", on_connect)
    return opened


def _kept(store: SqlStore) -> KeptPostgres:
    assert store._raw_kept is not None
    return store._raw_kept


async def test_statements_reuse_one_kept_connection_without_a_pool_checkout(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=3, max_overflow=5)
    opened = _count_connects(store)
    checkouts = 0

    def on_checkout(*_: object) -> None:
        nonlocal checkouts
        checkouts += 1

    event.listen(store._engine.sync_engine, "checkout", on_checkout)
    try:
        pid = await _backend(store)
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        for _ in range(20):
            assert [e.version for e in await store.read_stream("s")] == [1]
        assert await _backend(store) == pid
        assert opened[0] == 1
        assert checkouts == 1
        assert _kept(store).idle() == 1
    finally:
        await store.close()


async def test_no_more_than_pool_size_connections_under_concurrency(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=3, max_overflow=10)
    opened = _count_connects(store)
    holding = most = 0

    async def hold_a_statement() -> None:
        nonlocal holding, most
        async with store._raw_read() as raw:
            holding += 1
            most = max(most, holding)
            await raw.fetchrow("test", "SELECT pg_sleep(0.01)", ())
            holding -= 1

    try:
        await asyncio.gather(*(hold_a_statement() for _ in range(40)))
        await asyncio.gather(*(store.stream_version("s") for _ in range(40)))
        assert most == 3
        assert opened[0] == 3
        assert await _scalar(admin, _OTHER_BACKENDS) == 3
        assert _kept(store).held == 3
    finally:
        await store.close()


async def test_an_idle_kept_connection_is_lent_to_sqlalchemy_when_the_pool_has_none(
    postgres_url: str, admin: AsyncEngine
) -> None:
    """POOL_SIZE 1, no overflow: the raw path keeps the only connection, and a SQLAlchemy query
    gets it instead of waiting out the pool timeout."""
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    opened = _count_connects(store)
    try:
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        assert _kept(store).idle() == 1
        assert await store.list_stream_ids() == ["s"]  # SQLAlchemy Core, through the pool
        assert await store.stream_version("s") == 1  # and back to the raw path
        assert opened[0] == 1
    finally:
        await store.close()


async def test_every_terminated_connection_is_replaced_never_reused(
    postgres_url: str, admin: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "PING_IDLE_SECONDS", 1e9)  # no ping: the raw path sees it
    store = SqlStore(postgres_url, pool_size=2, max_overflow=0)
    try:
        pids = await _held_backends(store, 2)
        assert len(pids) == 2 and _kept(store).idle() == 2
        async with admin.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(:p)"),
                {"p": list(pids)},
            )
        for _ in range(4):
            # The first read finds its connection dead and reads again on a fresh one (the other
            # idle one, pinged after that failure, and replaced): no read fails.
            assert await store.stream_version("s") == 0
        fresh = await _held_backends(store, 2)
        assert not fresh & pids
        assert _kept(store).held == 2
    finally:
        await store.close()


async def _held_backends(store: SqlStore, count: int) -> set[int]:
    """The backends of ``count`` kept connections held at once (each caller keeps its connection
    until every other one holds one too)."""
    everyone_holds = asyncio.Barrier(count)

    async def held_backend() -> int:
        async with store._raw_read() as raw:
            row = await raw.fetchrow("test", "SELECT pg_backend_pid()", ())
            await everyone_holds.wait()
        assert row is not None
        return int(row[0])

    return set(await asyncio.gather(*(held_backend() for _ in range(count))))


async def test_a_connection_left_in_a_transaction_or_cancelled_is_not_kept(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    try:
        async with store._raw_read() as raw:
            await raw.begin()
            await raw.execute("test", "CREATE TABLE left_open (n integer)", ())
        assert _kept(store).idle() == 0  # back to the pool, whose reset rolled it back
        async with store._raw_read() as raw:
            row = await raw.fetchrow("test", "SELECT to_regclass('left_open') IS NULL", ())
            assert row is not None and row[0]

        async def sleep_in_a_statement() -> None:
            async with store._raw_read() as raw:
                await raw.fetchrow("test", "SELECT pg_sleep(30)", ())

        sleeping = asyncio.create_task(sleep_in_a_statement())
        await until(
            lambda: _scalar(
                admin,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE state = 'active' AND query = 'SELECT pg_sleep(30)'",
            ),
            "the statement running on the server",
        )
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        assert _kept(store).idle() == 0 and _kept(store).held == 0
        assert await store.stream_version("s") == 0
    finally:
        await store.close()


async def test_a_function_replaced_by_a_migration_is_called_again_on_kept_connections(
    postgres_url: str, admin: AsyncEngine
) -> None:
    """The append prepared on a kept connection, then ``curiouscore_append_v2`` dropped and created
    again (a new function, as a migration would): the next append re-prepares and works."""
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    try:
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        pid = await _backend(store)
        async with admin.begin() as connection:
            definition = (
                await connection.execute(
                    text(
                        "SELECT pg_get_functiondef(oid) FROM pg_proc"
                        " WHERE proname = 'curiouscore_append_v2'"
                    )
                )
            ).scalar_one()
            await connection.execute(text("DROP FUNCTION curiouscore_append_v2"))
            await connection.exec_driver_sql(definition)
        await store.append("s", [NewEvent("Noted", {})], 1, recorded_at="t")
        await store.append("t", [NewEvent("Noted", {})], 0, recorded_at="t")
        assert await _backend(store) == pid
        assert [e.version for e in await store.read_stream("s")] == [1, 2]
    finally:
        await store.close()


_RESULT_TYPE_OID = "SELECT oid::bigint FROM pg_type WHERE typname = 'curiouscore_append_result'"


async def test_a_result_type_created_again_is_decoded_again_on_kept_connections(
    postgres_url: str, admin: AsyncEngine
) -> None:
    """The append's result is one composite column (``sql_append._APPEND``), which asyncpg
    decodes with a codec it introspected by the type's oid: the function and its result type
    dropped and created again (migration 0019 downgraded and upgraded while the process runs, a
    new oid), the next append on the same connection re-prepares and decodes the new type."""
    migration = importlib.import_module("core.store.migrations.versions.0019_append_v2")
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    try:
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        pid = await _backend(store)
        async with admin.begin() as connection:
            old_type = (await connection.execute(text(_RESULT_TYPE_OID))).scalar_one()
            await connection.execute(text("DROP FUNCTION curiouscore_append_v2"))
            await connection.execute(text("DROP TYPE curiouscore_append_result"))
            await connection.exec_driver_sql(migration.RESULT_TYPE)
            await connection.exec_driver_sql(migration.APPEND_FUNCTION)
            new_type = (await connection.execute(text(_RESULT_TYPE_OID))).scalar_one()
        assert new_type != old_type
        await store.append("s", [NewEvent("Noted", {})], 1, recorded_at="t")
        with pytest.raises(ConcurrencyError):  # an outcome other than "written", decoded
            await store.append("s", [NewEvent("Noted", {})], 1, recorded_at="t")
        await store.append("t", [NewEvent("Noted", {})], 0, recorded_at="t")
        assert await _backend(store) == pid
        assert [e.version for e in await store.read_stream("s")] == [1, 2]
    finally:
        await store.close()


async def test_waiters_are_served_in_turn_for_at_most_the_pool_timeout(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=2, max_overflow=10, pool_timeout=0.3)
    kept = _kept(store)
    try:
        first, second = await kept.take(), await kept.take()
        served: list[int] = []

        async def wait(number: int) -> None:
            got = await kept.take()
            served.append(number)
            await kept.give_back(got)

        waiting = [asyncio.create_task(wait(n)) for n in range(3)]
        await asyncio.sleep(0)  # every waiter queued
        await kept.give_back(first)
        await asyncio.gather(*waiting)
        assert served == [0, 1, 2]

        third = await kept.take()  # the idle one
        with pytest.raises(exc.TimeoutError, match=r"2 pooled connections stayed busy for 0\.3 s"):
            await kept.take()
        cancelled = asyncio.create_task(kept.take())
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await kept.give_back(third)
        again = await asyncio.wait_for(kept.take(), 1)  # neither waiter kept a place
        await kept.give_back(again)
        await kept.give_back(second)
        assert kept.held == 2
    finally:
        await store.close()


async def test_a_connection_handed_to_a_waiter_cancelled_at_that_moment_passes_on(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=1, max_overflow=0)
    kept = _kept(store)
    try:
        held = await kept.take()
        first = asyncio.create_task(kept.take())
        second = asyncio.create_task(kept.take())
        await asyncio.sleep(0)
        await kept.give_back(held)  # handed to the first waiter, cancelled before it runs
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        got = await asyncio.wait_for(second, 1)  # the connection went on to the next waiter
        assert got is held
        await kept.give_back(got)
    finally:
        await store.close()


async def test_closing_the_store_closes_every_kept_connection(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=3, max_overflow=0)
    assert await store.warm_up() == 3
    assert _kept(store).idle() == 3
    assert await _scalar(admin, _OTHER_BACKENDS) == 3
    await store.close()
    assert _kept(store).held == 0
    await until(lambda: _scalar(admin, f"SELECT ({_OTHER_BACKENDS}) = 0"), "every backend closed")


async def test_the_raw_path_and_sqlalchemy_together_stay_within_pool_size_and_overflow(
    postgres_url: str, admin: AsyncEngine
) -> None:
    store = SqlStore(postgres_url, pool_size=2, max_overflow=1)
    opened = _count_connects(store)
    try:
        await store.append("s", [NewEvent("Noted", {})], 0, recorded_at="t")
        raw_reads = [store.stream_version("s") for _ in range(60)]
        core_reads = [store.list_stream_ids() for _ in range(20)]
        results = await asyncio.gather(*raw_reads, *core_reads)
        assert results == [1] * 60 + [["s"]] * 20
        assert opened[0] <= 3
        assert await _scalar(admin, _OTHER_BACKENDS) <= 3
        assert _kept(store).held <= 2
    finally:
        await store.close()
