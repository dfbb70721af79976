"""Rate-limit counters: the check and the count are one atomic step on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.store.migrate import migrate
from core.store.rate_counters import MemoryRateCounters, RateCounters, retry_after
from core.store.redis_rate_counters import RedisRateCounters
from core.store.sql import SqlStore
from tests.core.store.conftest import reset_postgres, sqlite_url_in
from tests.redis_support import delete_prefix, require_redis, unique_prefix

NOW = 1_000_000.0  # 40 s into a 60-second window
WINDOW = 60


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ]
)
async def counters(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RateCounters]:
    if request.param == "memory":
        yield MemoryRateCounters()
    elif request.param == "redis":
        url = await require_redis()
        prefix = unique_prefix()
        redis_counters = RedisRateCounters.from_url(url, prefix=prefix)
        yield redis_counters
        await redis_counters.aclose()
        await delete_prefix(url, prefix)
    else:
        url = sqlite_url_in(tmp_path) if request.param == "sqlite" else await reset_postgres()
        await migrate(url)
        store = SqlStore(url)
        yield store
        await store.close()


async def test_concurrent_hits_never_pass_more_than_the_limit(counters: RateCounters) -> None:
    hits = await asyncio.gather(
        *(counters.take_rate_hit("k", limit=10, window=WINDOW, now=NOW) for _ in range(30))
    )
    assert sum(hit.allowed for hit in hits) == 10
    refused = [hit for hit in hits if not hit.allowed]
    assert all(1 <= hit.retry_after <= 2 * WINDOW for hit in refused)


async def test_keys_are_counted_separately(counters: RateCounters) -> None:
    for _ in range(3):
        assert (await counters.take_rate_hit("a", limit=3, window=WINDOW, now=NOW)).allowed
    assert not (await counters.take_rate_hit("a", limit=3, window=WINDOW, now=NOW)).allowed
    assert (await counters.take_rate_hit("b", limit=3, window=WINDOW, now=NOW)).allowed


async def test_a_hit_given_back_frees_its_place(counters: RateCounters) -> None:
    first = await counters.take_rate_hit("k", limit=2, window=WINDOW, now=NOW)
    await counters.take_rate_hit("k", limit=2, window=WINDOW, now=NOW)
    assert not (await counters.take_rate_hit("k", limit=2, window=WINDOW, now=NOW)).allowed
    await counters.give_back_rate_hit("k", window=WINDOW, bucket=first.bucket)
    assert (await counters.take_rate_hit("k", limit=2, window=WINDOW, now=NOW)).allowed
    # Giving back more than was taken never goes below zero.
    for _ in range(5):
        await counters.give_back_rate_hit("k", window=WINDOW, bucket=first.bucket)
    for _ in range(2):
        assert (await counters.take_rate_hit("k", limit=2, window=WINDOW, now=NOW)).allowed
    assert not (await counters.take_rate_hit("k", limit=2, window=WINDOW, now=NOW)).allowed


async def test_the_previous_window_still_counts_until_it_slides_out(
    counters: RateCounters,
) -> None:
    start = 60.0 * 20_000  # a window boundary
    for _ in range(4):
        assert (await counters.take_rate_hit("k", limit=4, window=WINDOW, now=start + 50)).allowed
    # Just after the boundary the previous window still weighs almost fully.
    refused = await counters.take_rate_hit("k", limit=4, window=WINDOW, now=start + 61)
    assert not refused.allowed
    assert refused.retry_after >= 14  # 4 * (1 - t/60) + 1 <= 4 once t >= 15 s into the window
    # A quarter of the way in, one more fits; by the window's end the old hits are gone.
    assert (await counters.take_rate_hit("k", limit=4, window=WINDOW, now=start + 76)).allowed
    late = start + 119
    assert (await counters.take_rate_hit("k", limit=4, window=WINDOW, now=late)).allowed


def test_retry_after_points_at_the_moment_a_hit_fits() -> None:
    # A full window, nothing before it: wait for the next window and a tenth of it.
    assert retry_after(0, 10, limit=10, now=0.0, window=60) == 66
    # A full previous window: wait until its weight has decayed enough.
    assert retry_after(10, 0, limit=10, now=60.0, window=60) == 6
