"""Snapshots carry the text pydantic-core wrote for them, which the stores write as it is and
which decodes to exactly ``state_to_dict(state)``."""

from __future__ import annotations

import math

import pytest

from core.engine.state import (
    STATE_SCHEMA_VERSION,
    AttemptGrade,
    ClosedStep,
    SessionState,
    Status,
    StepProgress,
    TranscriptEntry,
    state_to_dict,
)
from core.service.snapshots import snapshot_of
from core.service.verify import verify_store
from core.store import InMemoryStore
from core.store.json_codec import EncodedMapping, dump_json, load_json
from tests.core.service.conftest import ADA, make_services

GOOD_ANSWER = "You can reuse a named block of logic."


def _odd_state(score: float = 1e-7) -> SessionState:
    """A state whose values JSON encoders tend to write differently."""
    grade = AttemptGrade(1, score, 15.0, 15, False)
    return SessionState(
        session_id="s-1",
        learner_id="l-1",
        status=Status.ACTIVE,
        score=2**70,
        current=StepProgress(
            "q",
            2,
            "mcq",
            10,
            2,
            0,
            False,
            pending_attempt=1,
            pending_answer=(0, 2),
            grades=(grade,),
        ),
        transcript=(
            TranscriptEntry("answer", "q", 'quote " back \\ \u2028 \x1f é 🦉', "t", choice=True),
            TranscriptEntry("answer", "q", "one", "t", choice=1, seq=2),
            TranscriptEntry("feedback", "q", "", "t", score=1.0, available=1e20, seq=3),
        ),
        closed_steps=(ClosedStep("g", 0, "gate", 0.0, True, grades=(grade,)),),
        version=7,
    )


@pytest.mark.parametrize("score", [1e-7, 0.1, 15.0, 1e300, -0.0])
def test_a_snapshot_decodes_to_the_state_dict(score: float) -> None:
    state = _odd_state(score)
    snapshot = snapshot_of(state)
    expected = state_to_dict(state)
    assert (snapshot.stream_id, snapshot.version) == ("s-1", 7)
    assert snapshot.schema_version == STATE_SCHEMA_VERSION
    assert snapshot.state == expected
    assert load_json(dump_json(snapshot.state)) == expected


@pytest.mark.parametrize("score", [0.1, 15.0, -0.0])
def test_a_snapshots_text_is_canonical_but_for_small_exponent_floats(score: float) -> None:
    """Keys in canonical order (``state_to_dict`` sorts them; the encoder keeps that order), so
    the text differs from ``dump_json``'s only where a float is written with an exponent."""
    state = _odd_state(score)
    assert snapshot_of(state).state.text == dump_json(dict(state_to_dict(state)))


def test_the_store_writes_the_snapshots_own_text() -> None:
    snapshot = snapshot_of(_odd_state())
    assert isinstance(snapshot.state, EncodedMapping)
    assert dump_json(snapshot.state) is snapshot.state.text


def test_infinite_and_missing_numbers_survive_a_snapshot() -> None:
    state = _odd_state(math.inf)
    text = dump_json(snapshot_of(state).state)
    assert load_json(text)["current"]["grades"][0]["score"] == math.inf
    nan = snapshot_of(_odd_state(math.nan)).state.text
    assert math.isnan(load_json(nan)["current"]["grades"][0]["score"])


def test_an_encoded_mapping_does_not_change() -> None:
    mapping = EncodedMapping({"a": 1}, '{"a":1}')
    with pytest.raises(TypeError):
        mapping["a"] = 2
    with pytest.raises(TypeError):
        mapping.update(a=2)
    with pytest.raises(TypeError):
        del mapping["a"]
    assert mapping == {"a": 1}


async def test_snapshots_hydrate_a_cold_process_and_match_replay() -> None:
    store = InMemoryStore()
    services = await make_services(store, snapshot_interval=1)
    try:
        game = services.game
        view = await game.create_session(ADA, "quiz")
        sid = view.session_id
        await game.start_session(ADA, sid)
        await game.continue_gate(ADA, sid, "welcome")
        await game.submit_answer(ADA, sid, "pick", 0)
        done = await game.submit_answer(ADA, sid, "truth", True)
        replayed = await game.replay(sid)
        stored = await store.load_snapshot(sid)
        assert stored is not None and stored.version == replayed.version
        fresh = await make_services(store, snapshot_interval=1)  # nothing cached in memory
        try:
            assert await fresh.game.hydrate(sid) == replayed
            assert await fresh.game.get_view(ADA, sid) == done
        finally:
            await fresh.close()
        report = await verify_store(store)
        assert report.ok, report.findings
    finally:
        await services.close()
