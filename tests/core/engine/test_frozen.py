"""quick_init: the engine's frozen dataclasses built through their slots' descriptors, with the
signature, defaults and frozenness dataclasses give them."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, dataclass, field, replace

import pytest

from core.engine.events import SessionCreated
from core.engine.frozen import quick_init, rebuilder
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


def test_objects_are_built_through_a_twin_and_keep_their_class() -> None:
    # The fast path: stores on a twin class, then back; the object is its own class, frozen.
    assert "_twin" in SessionState.__init__.__code__.co_names
    state = SessionState(session_id="s", version=2)
    assert type(state) is SessionState
    assert (state.session_id, state.version, state.status) == ("s", 2, Status.NEW)
    with pytest.raises(FrozenInstanceError):
        state.title = "x"  # type: ignore[misc]
    event = SessionCreated("t", "s", "l", "c", 1, "T", 2, 10, 5, 3)  # a subclass of Event
    assert type(event) is SessionCreated
    assert (event.at, event.xp) == ("t", 3)
    assert pickle.loads(pickle.dumps(state)) == state


def test_a_field_named_like_a_builtin_is_written() -> None:
    @quick_init
    @dataclass(frozen=True, slots=True)
    class Typed:
        type: str
        id: int = 0

    assert (Typed("a", 2).type, Typed("a", 2).id) == ("a", 2)


def test_a_subclass_inheriting_the_init_keeps_its_own_class() -> None:
    # A subclass with a __dict__ has another layout: the twin would refuse it, so the inherited
    # __init__ writes through the descriptors and the object stays the subclass's.
    class Tagged(_Sample):
        pass

    tagged = Tagged("a", 3)
    assert type(tagged) is Tagged
    assert (tagged.name, tagged.count, tagged.tags) == ("a", 3, ())
    assert hasattr(tagged, "__dict__")


def test_a_rebuilt_object_is_what_replace_gives() -> None:
    state = SessionState(session_id="s", status=Status.ACTIVE, version=2, transcript=())
    entry = TranscriptEntry("answer", "q", "text", "at")
    changes = {"version": 3, "updated_at": "t", "transcript": (entry,)}
    rebuilt = rebuilder(SessionState)(state, changes)
    assert type(rebuilt) is SessionState
    assert rebuilt == replace(state, **changes)  # type: ignore[arg-type]
    assert rebuilt.transcript[0] is entry and state.version == 2  # the original is untouched
    with pytest.raises(FrozenInstanceError):
        rebuilt.version = 4  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field 'nope'"):
        rebuilder(SessionState)(state, {"nope": 1})
    event = SessionCreated("t", "s", "l", "c", 1, "T", 2, 10, 5, 3)  # a subclass, base slot too
    assert rebuilder(SessionCreated)(event, {"at": "u", "xp": 4}) == replace(event, at="u", xp=4)


def test_a_class_without_a_twin_is_rebuilt_by_its_init() -> None:
    @dataclass(frozen=True, slots=True)
    class Plain:
        name: str
        count: int = 0

    rebuilt = rebuilder(Plain)(Plain("a", 1), {"count": 2})
    assert rebuilt == Plain("a", 2) and type(rebuilt) is Plain
