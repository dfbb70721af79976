"""The store chooses a new stream's registry bucket; ``db verify`` holds whatever it chose."""

from __future__ import annotations

from core.service.verify import check_registrations
from core.store.base import NewEvent, Store
from core.store.integrity import REGISTRY_BUCKETS, ChainKeys, registry_bucket
from core.store.memory import InMemoryStore
from core.store.registry_buckets import AVOID_CREATES, CHOSEN_BUCKETS, RegistryBuckets

AT = "2026-01-01T00:00:00+00:00"
KEYS = ChainKeys.from_secrets("registry-bucket-test-key-0123")


def test_buckets_are_taken_round_robin_from_the_offset() -> None:
    buckets = RegistryBuckets(4, offset=2)
    assert [buckets.choose() for _ in range(6)] == [2, 3, 0, 1, 2, 3]


def test_a_bucket_this_process_is_creating_in_is_skipped() -> None:
    buckets = RegistryBuckets(4, offset=0)
    assert buckets.choose(lambda bucket: bucket in {0, 1}) == 2
    assert buckets.choose(lambda bucket: bucket == 3) == 0


def test_a_refused_bucket_is_avoided_for_a_while_then_taken_again() -> None:
    buckets = RegistryBuckets(3, offset=0)
    buckets.refused(1)
    taken = [buckets.choose() for _ in range(AVOID_CREATES)]
    assert 1 not in taken and set(taken) == {0, 2}
    assert 1 in {buckets.choose() for _ in range(3)}


def test_when_every_free_bucket_is_avoided_the_one_avoided_longest_ago_is_taken() -> None:
    buckets = RegistryBuckets(3, offset=0)
    buckets.refused(2)
    buckets.choose()  # 0
    buckets.refused(0)
    assert buckets.choose(lambda bucket: bucket == 1) == 2


def test_when_every_bucket_is_busy_the_next_one_is_queued_on() -> None:
    buckets = RegistryBuckets(3, offset=1)
    assert buckets.choose(lambda bucket: True) == 1
    assert buckets.choose(lambda bucket: True) == 2


def test_processes_start_at_different_buckets() -> None:
    starts = {RegistryBuckets().choose() for _ in range(50)}
    assert len(starts) > 10
    assert starts <= set(range(CHOSEN_BUCKETS))


class _OldRule(RegistryBuckets):
    """The bucket the stream id gave before the store chose (crc32 modulo 16)."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(REGISTRY_BUCKETS, offset=registry_bucket(stream_id))


async def test_streams_of_the_old_rule_and_chosen_ones_verify_and_a_deleted_one_shows(
    store: Store,
) -> None:
    """Streams registered by the id's crc32 (data written before) and by the store's choice share
    buckets 0..15; every registration chain holds, and dropping any one stream with its head
    (old or new) breaks its bucket's chain or tail, on every store."""
    chooser = "_buckets"
    old = [f"old-{i}" for i in range(12)]
    for stream in old:
        setattr(store, chooser, _OldRule(stream))
        await store.append(stream, [NewEvent("Noted", {"n": 1})], 0, recorded_at=AT)
    setattr(store, chooser, RegistryBuckets(offset=0))
    new = [f"new-{i}" for i in range(20)]
    for stream in new:
        await store.append(stream, [NewEvent("Noted", {"n": 1})], 0, recorded_at=AT)
        await store.append(stream, [NewEvent("Noted", {"n": 2})], 1, recorded_at=AT)
    heads, tails = await store.stream_heads(), await store.registry_heads()
    assert {heads[s].bucket for s in old} == {registry_bucket(s) for s in old}
    assert [heads[s].bucket for s in new] == list(range(20))
    assert check_registrations(heads, tails, KEYS) == []
    shared = next(s for s in old if heads[s].bucket in {heads[n].bucket for n in new})
    for gone in (shared, new[3], old[-1]):
        remaining = {s: h for s, h in heads.items() if s != gone}
        findings = check_registrations(remaining, tails, KEYS)
        assert [f.session_id for f in findings] == [f"registry bucket {heads[gone].bucket}"]


async def test_a_memory_store_spreads_its_streams_over_the_buckets() -> None:
    store = InMemoryStore(chain_keys=KEYS)
    for i in range(2 * CHOSEN_BUCKETS):
        await store.append(f"s-{i}", [NewEvent("Noted", {"n": 1})], 0, recorded_at=AT)
    tails = await store.registry_heads()
    assert sorted(tails) == [-CHOSEN_BUCKETS, *range(CHOSEN_BUCKETS)]  # the directory, -64
    assert {tail.seq for bucket, tail in tails.items() if bucket >= 0} == {2}
    assert check_registrations(await store.stream_heads(), tails, KEYS) == []
