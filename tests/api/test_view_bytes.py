"""The session view's JSON bytes, pinned: ``view_bytes.jsonl`` holds what the implementation before
the view writer (pydantic-core's dump of the engine's dataclasses plus the ``*_html`` fields, main
``624f42d``) wrote for each of ``view_samples.representative_views()``, one view per line. Any
drift (a key's order, a float's text, an escape, the HTML) fails here, whichever way the bytes
are written."""

from __future__ import annotations

import dataclasses
import math
import random
import struct
from pathlib import Path

import pydantic_core
import pytest
from pydantic_core import SchemaSerializer, core_schema

from api import rendering
from core.engine.state import TranscriptEntry
from core.engine.view import Progress, SessionView
from tests.api.view_samples import representative_views

PINNED = (Path(__file__).parent / "view_bytes.jsonl").read_bytes().split(b"\n")[:-1]
VIEWS = representative_views()
STEP = VIEWS[2][1].step


def fresh(view: SessionView) -> SessionView:
    """An equal view of new objects (no remembered bytes apply to it)."""
    return dataclasses.replace(
        view,
        transcript=tuple(dataclasses.replace(entry) for entry in view.transcript),
        feedback=tuple(dataclasses.replace(item) for item in view.feedback),
    )


def test_every_sample_is_pinned() -> None:
    assert len(PINNED) == len(VIEWS)


@pytest.mark.parametrize(("index", "name"), [(i, name) for i, (name, _) in enumerate(VIEWS)])
def test_a_view_is_written_byte_for_byte_as_before(index: int, name: str) -> None:
    view = VIEWS[index][1]
    pinned = PINNED[index]
    written = rendering._write_view(fresh(view))  # the writer itself, not its fallback
    assert written == pinned
    assert rendering.view_json(fresh(view)) == pinned
    again = fresh(view)
    assert rendering.view_json(again) == pinned and rendering.view_json(again) == pinned
    # the reference the writer falls back to, and the documented response model, agree
    assert rendering._dumped_view_json(view) == pinned
    assert rendering.session_view_model(view).model_dump_json().encode() == pinned


def test_entries_and_explanations_written_once_are_reused_only_for_the_same_objects() -> None:
    view = VIEWS[2][1]
    first = rendering.view_json(view)
    entry = view.transcript[2]
    changed = dataclasses.replace(entry, text="Changed **text**.")
    other = dataclasses.replace(view, transcript=(*view.transcript[:2], changed))
    written = rendering.view_json(other)
    assert b"Changed **text**." in written and b"<strong>text</strong>" in written
    assert written == rendering._dumped_view_json(other)
    assert rendering.view_json(view) == first


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")  # the reference's, on a list
@pytest.mark.parametrize(
    "change",
    [
        {"version": True},  # a bool where an int goes: written as pydantic-core writes it
        {"progress": Progress(1, 7, 2.0, True)},  # type: ignore[arg-type]
        {"transcript": [TranscriptEntry("narration", "s", "as a list", "at")]},
        {"title": type("Title", (str,), {})("a str subclass")},
        {"progress": Progress(1, 7, math.nan, 70)},
        {"progress": Progress(1, 7, math.inf, 70)},
        {"progress": Progress(1, 7, 1.5e-7, 70)},
        # equal to a step already written (1 == True == 1.0), but written differently
        {"step": dataclasses.replace(STEP, index=True)},
        {"step": dataclasses.replace(STEP, points=10.0)},
        {"step": dataclasses.replace(STEP, answer_max_chars=True)},
    ],
)
def test_values_of_another_type_are_written_as_the_reference_writes_them(
    change: dict[str, object],
) -> None:
    rendering.view_json(fresh(VIEWS[2][1]))  # the step's parts remembered
    view = dataclasses.replace(VIEWS[2][1], **change)  # type: ignore[arg-type]
    assert rendering.view_json(view) == rendering._dumped_view_json(view)


def test_floats_are_written_as_pydantic_core_writes_them() -> None:
    floats = SchemaSerializer(core_schema.float_schema())
    rng = random.Random(17)
    samples = [0.0, -0.0, 1e-4, 9.999e-5, 1e16, 9999999999999998.0, 5e-324, 1.7976931348623157e308]
    samples += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(20000)]
    samples += [round(rng.uniform(0, 200), rng.randint(0, 6)) for _ in range(20000)]
    samples += [10 ** rng.uniform(-6, 17) for _ in range(20000)]
    for number in samples:
        reference = pydantic_core.to_json(floats.to_python(number, mode="json"))
        assert rendering._f(number) == reference, number


def test_a_long_answer_is_written_in_full_and_its_entry_not_kept() -> None:
    """Texts over 2,048 characters (a code answer takes 20,000) are neither remembered nor keep
    their entry's JSON: a cache of them could hold request bodies."""
    text = 'déjà vu "quoted"\n' * 400  # 6,800 characters
    long = TranscriptEntry("answer", "explain", text, "2026-01-02T03:04:05.678+00:00", seq=13)
    view = dataclasses.replace(VIEWS[2][1], transcript=(*VIEWS[2][1].transcript, long))
    kept = len(rendering._ENTRY_JSON)
    written = rendering.view_json(view)
    assert written == rendering._dumped_view_json(view)
    assert len(rendering._ENTRY_JSON) <= kept + len(view.transcript) - 1
    assert text not in rendering._STR_JSON and text not in rendering._PLAIN_JSON
