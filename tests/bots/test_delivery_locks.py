"""One delivery at a time per session across processes (Redis), and never stuck on a dead one."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bots.common.locks import DeliveryLocks
from core.service.single_flight import SharedLock
from tests.redis_support import delete_prefix, require_redis, unique_prefix

pytestmark = pytest.mark.redis


async def test_two_processes_deliver_one_after_the_other() -> None:
    url = await require_redis()
    prefix = unique_prefix()
    one = DeliveryLocks(SharedLock(Redis.from_url(url), prefix=prefix, ttl=60))
    two = DeliveryLocks(SharedLock(Redis.from_url(url), prefix=prefix, ttl=60))
    order: list[str] = []
    first_in = asyncio.Event()
    let_go = asyncio.Event()

    async def first() -> None:
        async with one.hold("s1"):
            order.append("one in")
            first_in.set()
            await let_go.wait()
            order.append("one out")

    async def second() -> None:
        await first_in.wait()
        async with two.hold("s1"):
            order.append("two in")

    try:
        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await first_in.wait()
        async with two.hold("s2"):  # another session is not held up
            order.append("other session")
        let_go.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert order == ["one in", "other session", "one out", "two in"]
    finally:
        await one.aclose()
        await two.aclose()
        await delete_prefix(url, prefix)


async def test_a_lock_left_by_a_killed_process_expires() -> None:
    url = await require_redis()
    prefix = unique_prefix()
    client = Redis.from_url(url)
    await client.set(prefix + "s1", "dead-process", px=300)  # held by nobody alive
    locks = DeliveryLocks(SharedLock(Redis.from_url(url), prefix=prefix, ttl=5.0))
    try:
        async with asyncio.timeout(5):
            async with locks.hold("s1"):
                assert await client.get(prefix + "s1") not in (None, b"dead-process")
        assert await client.get(prefix + "s1") is None  # released by its holder
    finally:
        await locks.aclose()
        await client.aclose()
        await delete_prefix(url, prefix)
