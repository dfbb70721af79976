"""A challenge's latest version is kept for ``LATEST_SECONDS`` per process (core/service/catalog.py):
a publish elsewhere is seen within that, one here at once, and a stale answer is always a stored
version (never an unknown one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.content import load_challenge_file
from core.errors import ChallengeNotFound
from core.service.catalog import LATEST_SECONDS, Catalog
from core.store.memory import InMemoryStore
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[3]
T0 = "2026-01-01T00:00:00+00:00"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def challenge(title: str):  # type: ignore[no-untyped-def]
    loaded = load_challenge_file(ROOT / "challenges" / "python-functions.yaml")
    return loaded.model_copy(update={"title": title})


async def test_a_publish_elsewhere_is_seen_within_the_window() -> None:
    store, clock = InMemoryStore(), Clock()
    here, elsewhere = Catalog(store, monotonic=clock), Catalog(store)
    first = await elsewhere.publish(challenge("One"), at=T0)
    assert (await here.latest_spec(first.challenge_id)).version == first.version

    second = await elsewhere.publish(challenge("Two"), at=T0)
    assert second.version == first.version + 1
    clock.now += LATEST_SECONDS / 2
    stale = await here.latest_spec(first.challenge_id)
    # The previous latest version, whole: what sessions under way are playing.
    assert (stale.version, stale.title) == (first.version, "One")
    assert stale == await here.spec(first.challenge_id, first.version)

    clock.now += LATEST_SECONDS / 2
    fresh = await here.latest_spec(first.challenge_id)
    assert (fresh.version, fresh.title) == (second.version, "Two")


async def test_a_publish_here_is_seen_at_once() -> None:
    store, clock = InMemoryStore(), Clock()
    catalog = Catalog(store, monotonic=clock)
    first = await catalog.publish(challenge("One"), at=T0)
    await catalog.latest_spec(first.challenge_id)
    second = await catalog.publish(challenge("Two"), at=T0)
    assert (await catalog.latest_spec(first.challenge_id)).version == second.version


async def test_an_unknown_challenge_is_not_remembered() -> None:
    store, clock = InMemoryStore(), Clock()
    here, elsewhere = Catalog(store, monotonic=clock), Catalog(store)
    with pytest.raises(ChallengeNotFound):
        await here.latest_spec("python-functions")
    published = await elsewhere.publish(challenge("One"), at=T0)
    # No time has passed: the miss was not kept.
    assert (await here.latest_spec("python-functions")).version == published.version


async def test_the_latest_version_is_read_once_per_window() -> None:
    store, clock = InMemoryStore(), Clock()
    catalog = Catalog(store, monotonic=clock)
    published = await catalog.publish(challenge("One"), at=T0)
    reads = 0
    original = store.latest_challenge_versions

    async def counted(challenge_id: str | None = None) -> dict[str, int]:
        nonlocal reads
        reads += 1
        return await original(challenge_id)

    store.latest_challenge_versions = counted  # type: ignore[method-assign]
    for _ in range(5):
        await catalog.latest_spec(published.challenge_id)
    assert reads == 1
    clock.now += LATEST_SECONDS
    await catalog.latest_spec(published.challenge_id)
    assert reads == 2


async def test_creates_arriving_while_the_latest_version_is_read_share_that_read() -> None:
    store, clock = InMemoryStore(), Clock()
    catalog = Catalog(store, monotonic=clock)
    published = await catalog.publish(challenge("One"), at=T0)
    reads, release = 0, asyncio.Event()
    original = store.latest_challenge_versions

    async def slow(challenge_id: str | None = None) -> dict[str, int]:
        nonlocal reads
        reads += 1
        await release.wait()
        return await original(challenge_id)

    store.latest_challenge_versions = slow  # type: ignore[method-assign]
    burst = [asyncio.create_task(catalog.latest_spec(published.challenge_id)) for _ in range(50)]
    await until(lambda: reads == 1, "the first read under way")
    release.set()
    specs = await asyncio.gather(*burst)
    assert {spec.version for spec in specs} == {published.version}
    assert reads == 1


async def test_a_read_begun_before_a_publish_here_is_not_shared_after_it() -> None:
    store, clock = InMemoryStore(), Clock()
    catalog = Catalog(store, monotonic=clock)
    first = await catalog.publish(challenge("One"), at=T0)
    read, release = asyncio.Event(), asyncio.Event()
    original = store.latest_challenge_versions

    async def held(challenge_id: str | None = None) -> dict[str, int]:
        versions = await original(challenge_id)  # read now, answered when released
        read.set()
        await release.wait()
        return versions

    store.latest_challenge_versions = held  # type: ignore[method-assign]
    before = asyncio.create_task(catalog.latest_spec(first.challenge_id))
    await read.wait()
    store.latest_challenge_versions = original  # type: ignore[method-assign]
    second = await catalog.publish(challenge("Two"), at=T0)
    after = await catalog.latest_spec(first.challenge_id)
    release.set()
    assert after.version == second.version
    assert (await before).version == first.version  # read before the publish
    # The read that began before the publish did not keep its answer.
    assert (await catalog.latest_spec(first.challenge_id)).version == second.version
