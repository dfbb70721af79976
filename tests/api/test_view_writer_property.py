"""The hand-written view writer against its reference, on views hypothesis builds from the types.

``api/rendering.py`` writes a session view's JSON itself, field by field; ``_dumped_view_json``
(pydantic-core) is the reference. ``test_view_bytes.py`` pins fifteen views the engine built;
this test builds views from the dataclasses' own type hints, so every field of every view class,
including one added later, is filled with values of its type: a field the writer forgets, writes
in the wrong place or with the wrong JSON fails here even if no sample fills it. The writer must
also write such a view itself, never fall back: a view of well-typed values is what it is for.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.rendering import _dumped_view_json, _write_view
from core.engine.view import SessionView

# Texts: the writer remembers JSON by value and treats ASCII, escapes and long texts apart.
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="ascii"), max_size=40),
    st.sampled_from(["", "a", "<script>x</script>", "**bold** `code`", "é\u2028\x00\ud7ff"]),
    st.text(min_size=2040, max_size=2060, alphabet='ab"\\\n'),
)
# Finite floats of every size (the engine never builds NaN or an infinity), and round ones.
_FLOAT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**6), 10**6).map(float),
    st.sampled_from([0.0, -0.0, 0.5, 1e16, 1e-7, 1e-5, 123456789012345678.0]),
)


def _strategy(hint: Any) -> st.SearchStrategy[Any]:
    """Values of one annotated type, as the engine's view classes use them."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return st.one_of(*(_strategy(arg) for arg in typing.get_args(hint)))
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_strategy(args[0]), max_size=3).map(tuple)
        return st.tuples(*(_strategy(arg) for arg in args))
    if hint is type(None):
        return st.none()
    if hint is str:
        return _TEXT
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-(2**53), 2**53)
    if hint is float:
        return _FLOAT
    if isinstance(hint, type) and issubclass(hint, str):  # a StrEnum
        return st.sampled_from(list(hint))  # type: ignore[arg-type]
    if dataclasses.is_dataclass(hint):
        return _dataclass(hint)
    raise AssertionError(f"no strategy for {hint!r}: teach this test the new field's type")


def _dataclass(cls: Any) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = {
        f.name: st.deferred(lambda h=hints[f.name]: _strategy(h)) for f in dataclasses.fields(cls)
    }
    return st.builds(cls, **fields)


def test_every_view_field_has_a_strategy() -> None:
    """The strategy covers every field of every view class (a new type fails here, by name)."""
    seen: set[type] = set()

    def walk(hint: Any) -> None:
        for arg in typing.get_args(hint):
            walk(arg)
        if dataclasses.is_dataclass(hint) and hint not in seen:
            seen.add(hint)  # type: ignore[arg-type]
            for hint_ in typing.get_type_hints(hint).values():
                _strategy(hint_)
                walk(hint_)

    walk(SessionView)
    assert {cls.__name__ for cls in seen} >= {
        "SessionView",
        "StepView",
        "CodeView",
        "CodeTestView",
        "TranscriptEntry",
        "ItemResult",
        "Progress",
        "ResultView",
        "StepResultView",
        "NextChallengeView",
        "FeedbackView",
        "OptionFeedback",
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_dataclass(SessionView))
def test_the_writer_writes_what_pydantic_core_writes(view: SessionView) -> None:
    reference = _dumped_view_json(view)
    assert _write_view(view) == reference
