"""Appends to different streams run in parallel, yet ``read_all`` (what projections read) never
skips an event: an event that commits late can never appear below a position already read.

On PostgreSQL ``read_all`` returns only positions below the oldest running transaction of the
whole cluster, so a transaction open in *another* database (another test run or benchmark on the
same server) holds every read back for as long as it runs. The tests therefore wait for the
events to become readable (a condition, with a generous bound), never for a fixed time, and an
empty page is not taken to mean that everything was read.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from core.store import sql_events
from core.store.base import NewEvent, Store, StoredEvent
from core.store.migrate import migrate
from core.store.sql import SqlStore
from core.store.sql_append import EncodedAppend
from core.store.sql_group import AppendRequest
from tests.waiting import until

T0 = "2026-01-01T00:00:00+00:00"
# How long the events may take to become readable: a busy shared server (2 cores, other test runs
# and benchmarks in other databases of the same PostgreSQL cluster) can hold reads back a while.
READ_WITHIN = 120.0


def noted(n: int) -> NewEvent:
    return NewEvent("Noted", {"n": n})


@pytest.mark.postgres
async def test_a_late_commit_is_never_skipped_and_does_not_block_other_streams(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(postgres_url)
    store = SqlStore(postgres_url)
    reached, release = asyncio.Event(), asyncio.Event()

    async def slow_append() -> None:
        # The append's own call, in a transaction left open once the events are written (an
        # append in autocommit commits as the call returns: this one is slow to commit).
        request = AppendRequest("slow", [noted(1)], 0, None, T0, None, None)
        async with store._raw_transaction() as raw:
            result, _ = await store._chain_and_call(
                raw, request, EncodedAppend.of(request, T0), None
            )
            assert result.last_version == 1
            reached.set()
            await release.wait()

    monkeypatch.setattr(sql_events, "READ_ALL_WAIT_SECONDS", 0.2)
    try:
        # The registry directory first, in autocommit, as a create or the warm-up makes it (the
        # slow create would make it inside its open transaction, holding up every other create).
        async with store._raw_read() as raw:
            await store._seed_tails(raw)
        slow = asyncio.create_task(slow_append())
        async with asyncio.timeout(20):
            await reached.wait()
            # Another stream commits while "slow" (an older transaction) is still open.
            await store.append("fast", [noted(1), noted(2)], 0, recorded_at=T0)
        while_open = await store.read_all(0)
        release.set()
        await slow
        after = await until(
            lambda: _all_three(store), "the three events to be readable", within=READ_WITHIN
        )
    finally:
        release.set()
        await store.close()

    # Reading "fast" now would move a projection past the position "slow" is about to commit at.
    assert [e.stream_id for e in while_open] == []
    assert [(e.stream_id, e.version) for e in after] == [("slow", 1), ("fast", 1), ("fast", 2)]
    assert [e.position for e in after] == sorted({e.position for e in after})


async def _all_three(store: Store) -> list[StoredEvent] | None:
    events = await store.read_all(0)
    return events if len(events) >= 3 else None


async def test_a_projection_reading_while_many_writers_append_never_skips_an_event(
    store: Store,
) -> None:
    writers, appends = 6, 15
    total = writers * appends
    done = asyncio.Event()
    seen: list[tuple[int, str, int]] = []

    async def write(stream: str) -> None:
        rng = random.Random(stream)
        for version in range(appends):
            await store.append(stream, [noted(version)], version, recorded_at=T0)
            if rng.random() < 0.3:
                await asyncio.sleep(0)

    async def project() -> None:
        position = 0
        while True:
            finished = done.is_set()
            page = await store.read_all(position, 7)
            for event in page:
                seen.append((event.position, event.stream_id, event.version))
                position = event.position
            # Every event written must be read in the end; until then an empty page only means
            # that nothing is safely readable yet (an older transaction is still open).
            if finished and len(seen) >= total:
                return
            await asyncio.sleep(0)  # the in-memory store never suspends on its own

    reader = asyncio.create_task(project())
    async with asyncio.timeout(READ_WITHIN + 60):
        await asyncio.gather(*(write(f"w{i}") for i in range(writers)))
        done.set()
        await reader

    positions = [p for p, _, _ in seen]
    assert positions == sorted(set(positions))
    assert sorted((s, v) for _, s, v in seen) == sorted(
        (f"w{i}", v) for i in range(writers) for v in range(1, appends + 1)
    )
    # Each stream's events are read in version order.
    for i in range(writers):
        assert [v for _, s, v in seen if s == f"w{i}"] == list(range(1, appends + 1))
