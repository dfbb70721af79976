"""Session change notifications across processes: what one feed publishes (after an append),
another feed's subscriber receives, through Redis pub/sub and through PostgreSQL LISTEN/NOTIFY.
Each feed has its own connections, as two processes would."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.service.session_changes import LocalChanges
from core.store.change_feeds import PostgresChanges, RedisChanges
from tests.core.service.conftest import PG_URL
from tests.redis_support import require_redis, unique_prefix


async def _delivered(publisher, subscriber) -> None:
    session = uuid.uuid4().hex
    async with subscriber.subscription(session) as changes:
        publisher.publish(session, 3)
        publisher.publish(session, 4)  # coalesced or not, the newest version arrives
        publisher.publish("someone-else", 9)
        for _ in range(10):
            if changes.version == 4:
                break
            assert await changes.wait(10), "no notification arrived"
        assert changes.version == 4


@pytest.mark.redis
async def test_redis_pub_sub_carries_changes_between_feeds():
    url = await require_redis()
    channel = f"{unique_prefix()}sessions"
    publisher, subscriber = RedisChanges(url, channel=channel), RedisChanges(url, channel=channel)
    try:
        await _delivered(publisher, subscriber)
    finally:
        await publisher.aclose()
        await subscriber.aclose()


@pytest.mark.postgres
async def test_postgres_listen_notify_carries_changes_between_feeds():
    channel = f"cc_test_{uuid.uuid4().hex[:12]}"
    publisher = PostgresChanges(PG_URL, channel=channel)
    subscriber = PostgresChanges(PG_URL, channel=channel)
    try:
        await _delivered(publisher, subscriber)
    finally:
        await publisher.aclose()
        await subscriber.aclose()


async def test_in_process_changes_wake_only_that_sessions_subscribers():
    local = LocalChanges()
    async with local.subscription("a") as a, local.subscription("b") as b:
        local.publish("a", 2)
        assert await a.wait(1) and a.version == 2
        assert not await b.wait(0.05)
    assert local.subscriber_count == 0
    await asyncio.sleep(0)
