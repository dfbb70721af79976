"""quick_init: the engine's frozen dataclasses built through their slots' descriptors, with the
signature, defaults and frozenness dataclasses give them."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, dataclass, field, replace

import pytest

from core.engine.events import SessionCreated
from core.engine.frozen import quick_init
from core.engine.state import SessionState, Status, TranscriptEntry
from core.engine.view import ResultView


@quick_init
@dataclass(frozen=True, slots=True)
class _Sample:
    name: str
    count: int = 1
    tags: tuple[str, ...] = field(default_factory=tuple)
    extra: list[int] = field(default_factory=list)


def test_a_quick_init_takes_the_same_arguments_and_defaults() -> None:
    assert _Sample("a") == _Sample(name="a", count=1, tags=(), extra=[])
    assert _Sample("a", 2, ("x",)).tags == ("x",)
    first, second = _Sample("a"), _Sample("a")
    assert first.extra is not second.extra  # a factory runs per object
    with pytest.raises(TypeError):
        _Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Sample("a", nope=1)  # type: ignore[call-arg]


def test_objects_stay_frozen() -> None:
    state = SessionState(session_id="s", status=Status.ACTIVE)
    with pytest.raises(FrozenInstanceError):
        state.version = 3  # type: ignore[misc]
    entry = TranscriptEntry("answer", "q", "text", "at")
    with pytest.raises(FrozenInstanceError):
        entry.text = "other"  # type: ignore[misc]


def test_the_engine_classes_use_it_and_still_replace_and_pickle() -> None:
    for cls, name in [(SessionState, "version"), (TranscriptEntry, "seq"), (ResultView, "steps")]:
        assert f"_set_{name}" in cls.__init__.__code__.co_names  # quick_init's, not dataclass's
    event = SessionCreated(
        at="t",
        session_id="s",
        learner_id="l",
        challenge_id="c",
        challenge_version=1,
        title="T",
        total_steps=2,
        max_score=10,
        passing_score=5,
        xp=3,
    )
    assert replace(event, xp=4).xp == 4
    assert pickle.loads(pickle.dumps(event)) == event
    assert SessionState.__init__.__code__.co_varnames[1] == "session_id"


def test_a_class_without_slots_is_refused() -> None:
    @dataclass(frozen=True)
    class Plain:
        name: str

    with pytest.raises(TypeError):
        quick_init(Plain)


def test_a_class_with_a_post_init_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="__post_init__"):
        quick_init(Checked)
