"""Slack pacing: sessions sharing a channel take turns (round robin), and with ``REDIS_URL`` two
processes share one channel's budget."""

from __future__ import annotations

import asyncio
import time

import pytest

from bots.slack.poster import ChannelPacer, LocalBuckets, RedisBuckets
from tests.redis_support import delete_prefix, require_redis, unique_prefix


async def test_sessions_in_one_channel_take_turns_not_first_come_first_served() -> None:
    pacer = ChannelPacer(0.05, burst=1)
    order: list[str] = []

    async def post(name: str) -> None:
        await pacer.turn("C1", name)
        order.append(name)

    # One learner has six messages waiting (e.g. several deliveries at once) before two others.
    busy = [asyncio.create_task(post("busy")) for _ in range(6)]
    await asyncio.sleep(0)
    await asyncio.gather(*busy, post("quiet"), post("other"))
    # The others' messages go within the next slots, not after all six (first come first served).
    assert order.index("quiet") <= 2 and order.index("other") <= 3
    assert order.count("busy") == 6


async def test_a_cancelled_wait_gives_its_slot_to_the_next() -> None:
    pacer = ChannelPacer(10.0, burst=1)
    await pacer.turn("C1", "a")  # the burst is spent: the next waits 10 s
    waiting = asyncio.create_task(pacer.turn("C1", "b"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await pacer.aclose()


@pytest.mark.redis
async def test_two_processes_share_a_channels_budget_through_redis() -> None:
    url = await require_redis()
    prefix = unique_prefix()
    one = ChannelPacer(buckets=RedisBuckets.from_url(url, 0.5, 2, prefix))
    two = ChannelPacer(buckets=RedisBuckets.from_url(url, 0.5, 2, prefix))
    try:
        started = time.monotonic()
        await one.turn("C1", "a")
        await two.turn("C1", "b")  # the burst of two, spent across both processes
        assert time.monotonic() - started < 0.4
        await two.turn("C1", "c")  # the third waits for the shared refill
        assert time.monotonic() - started >= 0.4
        local = ChannelPacer(buckets=LocalBuckets(0.5, 2))
        quick = time.monotonic()
        await local.turn("C1")
        await local.turn("C1")
        assert time.monotonic() - quick < 0.4  # a process-local bucket would not have waited
    finally:
        await one.aclose()
        await two.aclose()
        await delete_prefix(url, prefix)
