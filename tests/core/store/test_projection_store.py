"""Projection checkpoints, on every store."""

from __future__ import annotations

from core.store.projections import Checkpoint

AT = "2026-01-01T00:00:00Z"


async def test_a_checkpoint_is_saved_replaced_and_deleted(store):
    assert await store.load_checkpoint("p") is None
    await store.save_checkpoint(Checkpoint("p", 5, {"n": [1, 2], "s": "é"}, AT))
    assert await store.load_checkpoint("p") == Checkpoint("p", 5, {"n": [1, 2], "s": "é"}, AT)
    await store.save_checkpoint(Checkpoint("p", 9, {"n": [3]}, "2026-01-02T00:00:00Z"))
    assert await store.load_checkpoint("p") == Checkpoint(
        "p", 9, {"n": [3]}, "2026-01-02T00:00:00Z"
    )
    assert await store.load_checkpoint("other") is None
    assert await store.delete_checkpoint("p")
    assert not await store.delete_checkpoint("p")
    assert await store.load_checkpoint("p") is None


async def test_a_checkpoint_never_moves_backwards(store):
    await store.save_checkpoint(Checkpoint("p", 9, {"v": "late"}, AT))
    await store.save_checkpoint(Checkpoint("p", 4, {"v": "stale"}, AT))
    checkpoint = await store.load_checkpoint("p")
    assert checkpoint is not None and (checkpoint.position, checkpoint.state) == (9, {"v": "late"})
