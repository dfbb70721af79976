"""The store's per-request records (events to append, summaries, stream heads) are built by
quick_init, with the signature, defaults and frozenness their dataclass declarations give them."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, fields, is_dataclass, replace

import pytest

from core.store import base, integrity
from core.store.base import NewEvent, ReadModelChanges, SessionSummary, StoredEvent
from core.store.integrity import StreamHead

QUICK = [
    base.AccessClaim,
    base.NewEvent,
    base.StoredEvent,
    base.AppendResult,
    base.Snapshot,
    base.ChallengeRecord,
    base.Learner,
    base.SessionSummary,
    base.XpGrant,
    base.ReadModelChanges,
    base.LeaderboardRow,
    integrity.StreamHead,
    integrity.RegistryHead,
]


@pytest.mark.parametrize("cls", QUICK, ids=lambda cls: cls.__name__)
def test_the_records_use_quick_init(cls: type) -> None:
    assert is_dataclass(cls)
    first = fields(cls)[0].name
    assert f"_set_{first}" in cls.__init__.__code__.co_names  # quick_init's, not dataclass's


def test_defaults_keywords_and_frozenness_are_kept() -> None:
    event = NewEvent("step_entered", {"step": 1})
    assert event == NewEvent(type="step_entered", data={"step": 1}, schema_version=1)
    assert ReadModelChanges() == ReadModelChanges(None, None, None, (), (), None)
    stored = StoredEvent("s", 1, 1, "t", 1, {}, "at")
    assert (stored.event_hash, stored.key_id) == (None, None)
    with pytest.raises(FrozenInstanceError):
        stored.version = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        NewEvent("t")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        NewEvent("t", {}, nope=1)  # type: ignore[call-arg]


def test_records_still_replace_pickle_and_hash() -> None:
    summary = SessionSummary("s", "l", "c", 1, "active", 0, 3, 0.0, 10.0, None, "a", "b")
    assert replace(summary, step_index=1).step_index == 1
    assert pickle.loads(pickle.dumps(summary)) == summary
    head = StreamHead("s", 2, "h", None, 3, 4, None, "rm", "hm")
    assert hash(head) == hash(StreamHead("s", 2, "h", None, 3, 4, None, "rm", "hm"))
