"""Session change notifications across processes: what one feed publishes (after an append),
another feed's subscriber receives, through Redis pub/sub and through PostgreSQL LISTEN/NOTIFY.
Each feed has its own connections, as two processes would."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.service.session_changes import LocalChanges, learner_topic
from core.store.change_feeds import PostgresChanges, RedisChanges
from tests.core.service.conftest import PG_URL
from tests.redis_support import require_redis, unique_prefix
from tests.waiting import until


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


@pytest.mark.redis
async def test_redis_feed_publishes_nothing_while_no_process_listens_then_delivers_at_once():
    url = await require_redis()
    channel = f"{unique_prefix()}sessions"
    # Looks trusted for 2 s (a listener then waits 2.25 s): long enough that the subscription
    # below starts while the publisher's "nobody listens" is still fresh.
    publisher = RedisChanges(url, channel=channel, check_seconds=2)
    subscriber = RedisChanges(url, channel=channel, check_seconds=2)
    try:
        publisher.publish("nobody-watches", 1)
        publisher.publish("nobody-watches", 2)
        await until(lambda: publisher.batches_skipped >= 1, "the publisher deciding to skip")
        assert publisher.batches_sent == 0
        # The publisher has just seen nobody listening; a subscriber arriving now still gets
        # the next change (its listener waits until every publisher has looked again).
        await _delivered(publisher, subscriber)
        assert publisher.batches_sent >= 1
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


async def test_one_subscription_hears_its_session_and_its_learners_topic():
    local = LocalChanges()
    ada, eve = learner_topic("ada"), learner_topic("eve")
    async with local.subscription("s1", ada) as stream, local.subscription("s2", eve) as other:
        assert local.subscriber_count == 2
        local.publish(ada, 0)  # Ada signed out
        assert await stream.wait(1)
        assert not await other.wait(0.05)
        local.publish("s1", 5)
        assert await stream.wait(1) and stream.version == 5
    assert local.subscriber_count == 0


async def _delivered_although_closed_at_once(publisher, subscriber) -> None:
    """A short-lived process (``curiouscore admin promote``) publishes and closes at once: the
    change is still sent."""
    topic = learner_topic(uuid.uuid4().hex)
    async with subscriber.subscription(uuid.uuid4().hex, topic) as changes:
        publisher.publish(topic, 0)
        await publisher.aclose()
        assert await changes.wait(10), "the change was lost when the publisher closed"


@pytest.mark.redis
async def test_redis_feed_sends_what_it_holds_when_closed():
    url = await require_redis()
    channel = f"{unique_prefix()}sessions"
    subscriber = RedisChanges(url, channel=channel)
    try:
        await _delivered_although_closed_at_once(RedisChanges(url, channel=channel), subscriber)
    finally:
        await subscriber.aclose()


@pytest.mark.postgres
async def test_postgres_feed_sends_what_it_holds_when_closed():
    channel = f"cc_test_{uuid.uuid4().hex[:12]}"
    subscriber = PostgresChanges(PG_URL, channel=channel)
    try:
        await _delivered_although_closed_at_once(
            PostgresChanges(PG_URL, channel=channel), subscriber
        )
    finally:
        await subscriber.aclose()
