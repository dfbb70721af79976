"""PostgreSQL appends in one call of ``curiouscore_append`` (migration 0016, core/store/sql_append.py).

Each store here stands for a process: it chains optimistically from the heads and registry tails
it saw last, and two stores on one database race as two processes do. Whatever a store believed,
the chain it writes is the one ``db verify`` recomputes, and a refusal is the one the statements
before the function gave.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import text

from core.service.verify import check_chain, check_head, check_registrations
from core.store.base import (
    ConcurrencyError,
    IdempotencyKeyReused,
    NewEvent,
    SchemaNotMigrated,
)
from core.store.engine import create_store_engine
from core.store.integrity import ChainKeys, RegistryHead
from core.store.migrate import migrate
from core.store.registry_buckets import AVOID_CREATES, RegistryBuckets
from core.store.sql import SqlStore
from core.store.sql_append import _APPEND, APPEND_ARGUMENTS
from core.store.sql_raw import STATEMENTS

pytestmark = pytest.mark.postgres

T0 = "2026-01-01T00:00:00+00:00"
KEYS = ChainKeys.from_secrets("a key of at least sixteen bytes")


def noted(n: int) -> NewEvent:
    return NewEvent("Noted", {"n": n})


async def _execute(url: str, statement: str) -> None:
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _verified(store: SqlStore) -> None:
    """Every chain, head and registration ``db verify`` checks holds."""
    heads = await store.stream_heads()
    for stream_id in await store.list_stream_ids():
        events = await store.read_stream(stream_id)
        assert check_chain(stream_id, events, KEYS) == ([], 0)
        assert check_head(stream_id, events, heads.get(stream_id), KEYS) == []
    assert check_registrations(heads, await store.registry_heads(), KEYS) == []


@pytest.fixture
async def two_stores(postgres_url: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one migrated database: two processes, each with its own caches."""
    await migrate(postgres_url)
    first, second = SqlStore(postgres_url, chain_keys=KEYS), SqlStore(postgres_url, chain_keys=KEYS)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_an_append_to_a_stream_this_process_wrote_last_is_one_call(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    store, _ = two_stores
    await store.append("s", [noted(1)], 0, recorded_at=T0)
    before = Counter(STATEMENTS)
    await store.append("s", [noted(2), noted(3)], 1, idempotency_key="k", recorded_at=T0)
    assert Counter(STATEMENTS) - before == Counter(append=1)
    await _verified(store)


async def test_a_stream_another_process_moved_is_read_first_then_appended_once(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    await second.append("s", [noted(2)], 1, recorded_at=T0)  # no head cached: the tip, then a call
    # The first store's head is at version 1: its expected version 1 is refused as before, with
    # the actual version, and the store learns the actual head from the refusal.
    with pytest.raises(ConcurrencyError) as refused:
        await first.append("s", [noted(2)], 1, recorded_at=T0)
    assert (refused.value.expected_version, refused.value.actual_version) == (1, 2)
    before = Counter(STATEMENTS)
    await first.append("s", [noted(3)], 2, recorded_at=T0)
    assert Counter(STATEMENTS) - before == Counter(append=1)
    assert [e.data["n"] for e in await second.read_stream("s")] == [1, 2, 3]
    await _verified(first)


async def test_a_stale_head_at_the_expected_version_is_refused_then_chained_again(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """The process's head has the right version but not the right digest (the stream was
    deleted and written again by another process): the function refuses it with the actual
    head, and the append chains from that one. The chain stays whole."""
    first, second = two_stores
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    stale = first._heads["s"]
    first._heads["s"] = replace(stale, event_hash="0" * 64, head_mac="1" * 64)
    before = Counter(STATEMENTS)
    result = await first.append("s", [noted(2)], 1, recorded_at=T0)
    assert Counter(STATEMENTS) - before == Counter(append=2)
    assert (result.first_version, result.last_version) == (2, 2)
    await _verified(second)


async def test_a_stale_registry_tail_is_refused_then_chained_again(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """Another process registered streams in a bucket since this one last did: the new stream's
    registration is refused with the bucket's actual tail and chained after it (one bucket
    only here, so there is nowhere else to go)."""
    first, second = two_stores
    first._buckets, second._buckets = RegistryBuckets(1), RegistryBuckets(1)
    await first.append("s0", [noted(1)], 0, recorded_at=T0)
    await second.append("s1", [noted(1)], 0, recorded_at=T0)
    before = Counter(STATEMENTS)
    await first.append("s2", [noted(1)], 0, recorded_at=T0)
    assert Counter(STATEMENTS) - before == Counter(append=2)
    tail = (await first.registry_heads())[0]
    assert first._tails[0] == tail and tail.seq == 3
    await _verified(first)


async def test_a_create_refused_in_a_bucket_leaves_it_to_the_other_process(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """Refused in a bucket another process registers in, a create goes to another bucket, and
    this process avoids the first one for a while: the other process's next create there is not
    refused in turn."""
    first, second = two_stores
    first._buckets, second._buckets = RegistryBuckets(2, offset=0), RegistryBuckets(2, offset=0)
    await first.append("a0", [noted(1)], 0, recorded_at=T0)  # bucket 0
    await second.append("b0", [noted(1)], 0, recorded_at=T0)  # bucket 0, after a0 (tails read)
    first._buckets = RegistryBuckets(2, offset=0)
    before = Counter(STATEMENTS)
    await first.append("a1", [noted(1)], 0, recorded_at=T0)  # refused in 0, written in 1
    assert Counter(STATEMENTS) - before == Counter(append=2)
    assert first._heads["a1"].bucket == 1
    second._buckets = RegistryBuckets(2, offset=0)
    before = Counter(STATEMENTS)
    await second.append("b1", [noted(1)], 0, recorded_at=T0)  # 0 is still as it left it
    assert Counter(STATEMENTS) - before == Counter(append=1)
    assert first._buckets.choose() == 1  # 0 avoided; 1 free
    assert first._buckets.choose() == 1
    await _verified(first)


async def test_two_processes_creating_in_turn_stop_refusing_each_other(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """Two processes starting at the same bucket (the worst case) refuse each other at most once
    per bucket, while they find out which buckets the other uses; then not at all. (With the
    bucket derived from the stream id, about half of the creates were refused, every lap.)"""
    first, second = two_stores
    first._buckets, second._buckets = RegistryBuckets(offset=0), RegistryBuckets(offset=0)
    laps = [0, 0]
    for lap in range(2):
        before = Counter(STATEMENTS)
        for i in range(96 if lap == 0 else 64):
            await first.append(f"a{lap}-{i}", [noted(1)], 0, recorded_at=T0)
            await second.append(f"b{lap}-{i}", [noted(1)], 0, recorded_at=T0)
        creates = 2 * (96 if lap == 0 else 64)
        laps[lap] = (Counter(STATEMENTS) - before)["append"] - creates
    assert laps[0] <= 64
    assert laps[1] == 0
    assert AVOID_CREATES > 96 + 64  # no avoided bucket came back meanwhile
    await _verified(first)


async def test_a_process_reads_the_tails_once_before_its_first_creates(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """A process's first creates (a burst at start-up) wait for one read of every bucket's tail
    and chain after it: no refusal for the registrations other processes made before."""
    first, second = two_stores
    streams = [f"s{i}" for i in range(64)]
    for stream in streams[:32]:
        await first.append(stream, [noted(1)], 0, recorded_at=T0)
    before = Counter(STATEMENTS)
    await asyncio.gather(
        *(second.append(stream, [noted(1)], 0, recorded_at=T0) for stream in streams[32:40])
    )
    spent = Counter(STATEMENTS) - before
    assert spent["registry"] == 1
    assert spent["append"] == 8  # one call each: none refused
    await _verified(second)


async def test_a_create_chained_after_one_that_wrote_nothing_chains_again(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """The tail this process expected for the bucket was never written (a tampered or lost
    expectation): refused with the actual tail, the create registers after that."""
    store, _ = two_stores
    store._buckets = RegistryBuckets(1)
    await store.append("s0", [noted(1)], 0, recorded_at=T0)
    actual = store._tails[0]
    store._tails[0] = replace(actual, seq=actual.seq + 1, last_mac="2" * 64, mac="3" * 64)
    before = Counter(STATEMENTS)
    await store.append("s1", [noted(1)], 0, recorded_at=T0)
    assert Counter(STATEMENTS) - before == Counter(append=2)
    assert (await store.registry_heads())[0].seq == 2
    await _verified(store)


async def test_new_streams_created_at_once_in_two_processes_register_in_one_chain(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    await asyncio.gather(
        *(
            store.append(f"{name}-{i}", [noted(1), noted(2)], 0, recorded_at=T0)
            for i in range(24)
            for name, store in (("a", first), ("b", second))
        )
    )
    heads = await first.stream_heads()
    assert len(heads) == 48
    assert sum(tail.seq for tail in (await first.registry_heads()).values()) == 48
    await _verified(second)


async def test_two_processes_appending_to_one_stream_at_once_one_wins(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    await second.append("s", [noted(2)], 1, recorded_at=T0)
    # Both at version 2 now (the first learns it from a refusal).
    with pytest.raises(ConcurrencyError):
        await first.append("s", [noted(3)], 1, recorded_at=T0)
    outcomes = await asyncio.gather(
        first.append("s", [noted(3)], 2, recorded_at=T0),
        second.append("s", [noted(30)], 2, recorded_at=T0),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, ConcurrencyError)]
    assert len(refused) == 1 and refused[0].actual_version == 3
    assert [e.version for e in await first.read_stream("s")] == [1, 2, 3]
    await _verified(first)


async def test_the_same_new_stream_created_by_two_processes_at_once_is_created_once(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    outcomes = await asyncio.gather(
        first.append("s", [noted(1)], 0, recorded_at=T0),
        second.append("s", [noted(10), noted(11)], 0, recorded_at=T0),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, ConcurrencyError)]
    assert len(refused) == 1 and refused[0].actual_version in (1, 2)
    assert sum(tail.seq for tail in (await first.registry_heads()).values()) == 1
    await _verified(first)


async def test_a_retry_whose_twin_committed_first_in_another_process_is_the_duplicate(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    outcomes = await asyncio.gather(
        first.append("s", [noted(2)], 1, idempotency_key="k", request_digest="d", recorded_at=T0),
        second.append("s", [noted(2)], 1, idempotency_key="k", request_digest="d", recorded_at=T0),
    )
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    assert {(o.first_version, o.last_version) for o in outcomes} == {(2, 2)}
    # Same key, another request: refused in either process, whatever version it expects.
    for store, expected in ((first, 1), (second, 2), (first, 2)):
        with pytest.raises(IdempotencyKeyReused):
            await store.append(
                "s", [noted(9)], expected, idempotency_key="k", request_digest="other",
                recorded_at=T0,
            )  # fmt: skip
    assert [e.version for e in await first.read_stream("s")] == [1, 2]


async def test_a_database_without_the_function_says_to_run_migrate(postgres_url: str) -> None:
    await migrate(postgres_url)
    await _execute(postgres_url, "DROP FUNCTION curiouscore_append_v2")
    store = SqlStore(postgres_url)
    try:
        with pytest.raises(SchemaNotMigrated, match="curiouscore db migrate"):
            await store.append("s", [noted(1)], 0, recorded_at=T0)
    finally:
        await store.close()


async def test_the_function_refuses_to_run_outside_read_committed(postgres_url: str) -> None:
    """Its tip read relies on a fresh snapshot per statement; REPEATABLE READ would give it the
    snapshot from before the lock was granted."""
    await migrate(postgres_url)
    engine = create_store_engine(postgres_url, pooled=False)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            with pytest.raises(Exception, match="READ COMMITTED"):
                await connection.execute(
                    text(
                        "SELECT * FROM curiouscore_append_v2('s', 0, NULL, NULL, false, NULL,"
                        " NULL, 'Noted', '1', '{}', 'h', 't', NULL, 'm', 0, 0, NULL, 'e', 'r',"
                        " 't'" + ", NULL" * 24 + ")"
                    )
                )
    finally:
        await engine.dispose()


async def test_the_append_is_called_as_a_scalar_not_planned_as_a_table_function(
    postgres_url: str,
) -> None:
    """``SELECT * FROM curiouscore_append_v2(...)`` was planned as a FunctionScan, whose start-up
    cost the backend ~45,000 instructions per append (``sql_append._APPEND``): the statement the
    store prepares is a plain result of one composite column."""
    await migrate(postgres_url)
    engine = create_store_engine(postgres_url, pooled=False)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(f"PREPARE append_call AS {_APPEND}")
            nulls = ", ".join(["NULL"] * APPEND_ARGUMENTS)
            plan = "\n".join(
                row[0]
                for row in await connection.exec_driver_sql(
                    f"EXPLAIN (COSTS OFF) EXECUTE append_call({nulls})"
                )
            )
    finally:
        await engine.dispose()
    assert plan == "Result"


def test_the_function_takes_the_locks_the_other_writers_take() -> None:
    """The lock keys are written into the migration; they must be the ones ``import_stream`` and
    the global append lock use (core/store/sql_heads.py)."""
    import importlib

    from core.store.sql_heads import APPEND_LOCK_KEY, STREAM_LOCK_SEED

    for name in ("0016_postgres_append_function", "0019_append_v2"):
        migration = importlib.import_module(f"core.store.migrations.versions.{name}")
        assert f"pg_advisory_xact_lock({APPEND_LOCK_KEY})" in migration.APPEND_FUNCTION
        assert f"hashtextextended(p_stream, {STREAM_LOCK_SEED})" in migration.APPEND_FUNCTION


async def test_a_stale_tail_cache_never_registers_a_stream_twice(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    """A tail from the future (a rolled-back registration this process remembered) is refused
    like one from the past."""
    first, _ = two_stores
    first._buckets, bucket = RegistryBuckets(1), 0
    first._tails[bucket] = RegistryHead(bucket, 5, "f" * 64, None, "e" * 64)
    await first.append("s", [noted(1)], 0, recorded_at=T0)
    assert (await first.registry_heads())[bucket].seq == 1
    await _verified(first)
