"""Group commit: concurrent appends share a transaction on SQLite (one writer task draining a
queue) and run as concurrent transactions on PostgreSQL; on both, each append keeps its own
version check, idempotency result and failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.store.base import (
    AppendResult,
    ConcurrencyError,
    IdempotencyKeyReused,
    NewEvent,
    ReadModelChanges,
    XpAlreadyGranted,
    XpGrant,
)
from core.store.migrate import migrate
from core.store.sql import SqlStore
from core.store.sql_raw import STATEMENTS

T0 = "2026-01-01T00:00:00+00:00"


def noted(n: int) -> NewEvent:
    return NewEvent("Noted", {"n": n})


@pytest.fixture
async def sql_store(database_url: str) -> AsyncIterator[SqlStore]:
    await migrate(database_url)
    store = SqlStore(database_url)
    try:
        yield store
    finally:
        await store.close()


def groups_of(store: SqlStore) -> int | None:
    """Transactions the SQLite group committer made (None on PostgreSQL)."""
    group = store._group
    return None if group is None else group.groups


async def test_concurrent_appends_to_different_streams_share_one_transaction(
    sql_store: SqlStore,
) -> None:
    results = await asyncio.gather(
        *(sql_store.append(f"s{i}", [noted(1), noted(2)], 0, recorded_at=T0) for i in range(40))
    )

    assert all(r == AppendResult(1, 2) for r in results)
    for i in range(40):
        assert [e.version for e in await sql_store.read_stream(f"s{i}")] == [1, 2]
    if not sql_store._is_postgres:
        assert groups_of(sql_store) == 1  # all forty queued before the writer ran
    # The chain of every stream verifies after the shared transaction.
    heads = await sql_store.stream_heads()
    assert {heads[f"s{i}"].version for i in range(40)} == {2}


async def test_a_group_without_refusals_sets_no_savepoints(sql_store: SqlStore) -> None:
    """Savepoints are only for a group in which an append fails (then it runs again, each
    append in its own); the common group is written at once, one statement fewer each way."""
    if sql_store._is_postgres:
        pytest.skip("PostgreSQL appends are not grouped")
    await sql_store.append("keyed", [noted(1)], 0, recorded_at=T0, idempotency_key="k")
    before = STATEMENTS["savepoint"], STATEMENTS["begin"], groups_of(sql_store)

    results = await asyncio.gather(
        *(sql_store.append(f"s{i}", [noted(1)], 0, recorded_at=T0) for i in range(5)),
        sql_store.append("keyed", [noted(2)], 1, recorded_at=T0),
        # a retry of a recorded request is answered without writing: not a failure
        sql_store.append("keyed", [noted(1)], 0, recorded_at=T0, idempotency_key="k"),
    )

    assert results[:6] == [AppendResult(1, 1)] * 5 + [AppendResult(2, 2)]
    assert results[6].duplicate and (results[6].first_version, results[6].last_version) == (1, 1)
    assert (STATEMENTS["savepoint"], STATEMENTS["begin"], groups_of(sql_store)) == (
        before[0],
        before[1] + 1,
        before[2] + 1,  # type: ignore[operator]
    )
    assert [e.version for e in await sql_store.read_stream("keyed")] == [1, 2]


async def test_sequential_appends_still_commit_one_by_one(sql_store: SqlStore) -> None:
    for version in range(3):
        await sql_store.append("one", [noted(version)], version, recorded_at=T0)

    assert [e.version for e in await sql_store.read_stream("one")] == [1, 2, 3]
    if not sql_store._is_postgres:
        assert groups_of(sql_store) == 3


async def test_a_conflict_inside_a_group_fails_only_the_late_append(sql_store: SqlStore) -> None:
    outcomes = await asyncio.gather(
        sql_store.append("shared", [noted(1)], 0, recorded_at=T0),
        sql_store.append("other", [noted(1)], 0, recorded_at=T0),
        sql_store.append("shared", [noted(2)], 0, recorded_at=T0),
        return_exceptions=True,
    )

    conflicts = [o for o in outcomes if isinstance(o, ConcurrencyError)]
    assert len(conflicts) == 1
    assert outcomes[1] == AppendResult(1, 1)
    shared = await sql_store.read_stream("shared")
    assert len(shared) == 1  # exactly one of the two racing appends is stored
    assert await sql_store.stream_version("other") == 1


async def test_the_same_idempotency_key_twice_in_a_group_is_stored_once(
    sql_store: SqlStore,
) -> None:
    def keyed(digest: str) -> object:
        return sql_store.append(
            "s", [noted(1), noted(2)], 0, recorded_at=T0, idempotency_key="k", request_digest=digest
        )

    first, second, other = await asyncio.gather(
        keyed("d"), keyed("d"), sql_store.append("t", [noted(1)], 0, recorded_at=T0)
    )

    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    assert (first.first_version, first.last_version) == (second.first_version, second.last_version)
    assert [e.version for e in await sql_store.read_stream("s")] == [1, 2]
    assert other == AppendResult(1, 1)


async def test_a_reused_key_for_another_request_inside_a_group_is_refused(
    sql_store: SqlStore,
) -> None:
    outcomes = await asyncio.gather(
        sql_store.append(
            "s", [noted(1)], 0, recorded_at=T0, idempotency_key="k", request_digest="answer A"
        ),
        sql_store.append(
            "s", [noted(1)], 0, recorded_at=T0, idempotency_key="k", request_digest="answer B"
        ),
        return_exceptions=True,
    )

    assert sum(isinstance(o, IdempotencyKeyReused) for o in outcomes) == 1
    assert sum(isinstance(o, AppendResult) and not o.duplicate for o in outcomes) == 1
    assert await sql_store.stream_version("s") == 1


async def test_a_failing_append_does_not_fail_the_others_of_its_group(
    sql_store: SqlStore,
) -> None:
    grant = XpGrant("learner", "challenge", "first", 10, T0)
    await sql_store.append(
        "first", [noted(1)], 0, recorded_at=T0, changes=ReadModelChanges(xp_grant=grant)
    )
    before = groups_of(sql_store)

    outcomes = await asyncio.gather(
        sql_store.append("good-1", [noted(1)], 0, recorded_at=T0),
        # The XP is already held: this append is refused whole.
        sql_store.append(
            "second",
            [noted(1)],
            0,
            recorded_at=T0,
            changes=ReadModelChanges(xp_grant=XpGrant("learner", "challenge", "second", 10, T0)),
        ),
        # Data that cannot be stored: this append fails with its own error.
        sql_store.append("broken", [NewEvent("Noted", {"n": object()})], 0, recorded_at=T0),
        sql_store.append("good-2", [noted(1), noted(2)], 0, recorded_at=T0),
        return_exceptions=True,
    )

    assert outcomes[0] == AppendResult(1, 1)
    assert isinstance(outcomes[1], XpAlreadyGranted)
    assert isinstance(outcomes[2], TypeError)
    assert outcomes[3] == AppendResult(1, 2)
    assert await sql_store.stream_version("second") == 0
    assert await sql_store.stream_version("broken") == 0
    assert [e.version for e in await sql_store.read_stream("good-2")] == [1, 2]
    heads = await sql_store.stream_heads()
    assert "second" not in heads and "broken" not in heads
    if before is not None:
        assert groups_of(sql_store) == before + 1  # one group for all four (written twice: the
        # second time with savepoints, after the first was rolled back)


async def test_many_writers_on_one_stream_and_many_streams_lose_nothing(
    sql_store: SqlStore,
) -> None:
    """Writers retrying on conflicts, as the service does, end with every event stored once."""

    async def writer(stream: str, count: int) -> None:
        written = 0
        while written < count:
            version = await sql_store.stream_version(stream)
            try:
                await sql_store.append(stream, [noted(written)], version, recorded_at=T0)
            except ConcurrencyError:
                continue
            written += 1

    async with asyncio.timeout(120):
        await asyncio.gather(
            *(writer("hot", 5) for _ in range(4)), *(writer(f"cold{i}", 5) for i in range(8))
        )

    assert [e.version for e in await sql_store.read_stream("hot")] == list(range(1, 21))
    for i in range(8):
        assert await sql_store.stream_version(f"cold{i}") == 5
    events = await sql_store.read_all(0, limit=10_000)
    assert len(events) == 60
    assert len({e.position for e in events}) == 60
