"""Replay: events and state survive encoding, and folding the log always rebuilds the live state."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.engine.challenge import ChallengeSpec, StepKind, StepSpec
from core.engine.commands import (
    AbandonSession,
    Command,
    ContinueGate,
    CreateSession,
    ItemVerdict,
    RecordEvaluation,
    RecordHint,
    RecordNarration,
    RequestHint,
    StartSession,
    SubmitAnswer,
    Verdict,
)
from core.engine.decide import run
from core.engine.events import (
    EVENT_TYPES,
    UPCASTERS,
    AnswerGraded,
    AnswerSubmitted,
    Event,
    GradeReviewed,
    HintGiven,
    HintRequested,
    ItemResult,
    LlmTrace,
    SessionAbandoned,
    SessionCompleted,
    SessionCreated,
    SessionStarted,
    StepClosed,
    StepEntered,
    StepNarrated,
    UnknownEvent,
    decode,
    encode,
)
from core.engine.plain import to_plain
from core.engine.state import (
    TRANSCRIPT_LIMIT,
    SessionState,
    Status,
    fold,
    state_from_dict,
    state_to_dict,
)
from core.errors import DomainError
from tests.core.engine import builders as b

TRACE = LlmTrace(
    provider="anthropic",
    model="claude-x",
    prompt_hash="sha256:abc",
    tokens_in=120,
    tokens_out=40,
    cost_usd=0.0012,
    latency_ms=850,
    provisional=True,
)

GRADED_BY_LLM = AnswerGraded(
    at=b.AT,
    step_id="q",
    attempt=1,
    score=12.5,
    max_points=30,
    available=27.0,
    passed=False,
    feedback="Close.",
    grader="anthropic",
    items=(ItemResult("reuse", 12.5, 15, "good"), ItemResult("org", 0.0, 15)),
    rationale="Mentions reuse only.",
    flags=("injection_attempt",),
    trace=TRACE,
)

SAMPLE_EVENTS: list[Event] = [
    SessionCreated(
        at=b.AT,
        session_id="s",
        learner_id="l",
        challenge_id="demo",
        challenge_version=2,
        title="Demo",
        total_steps=3,
        max_score=50,
        passing_score=70,
        xp=100,
    ),
    SessionStarted(at=b.AT),
    StepEntered(
        at=b.AT,
        step_id="q",
        index=0,
        kind="mcq",
        points=20,
        max_attempts=2,
        hints_available=3,
        narrate=True,
    ),
    StepNarrated(at=b.AT, step_id="q", text="Hello", source="anthropic", trace=TRACE),
    StepNarrated(at=b.AT, step_id="q", text="Hello", source="authored"),
    AnswerSubmitted(at=b.AT, step_id="q", attempt=1, answer=2, display="choice 2"),
    AnswerSubmitted(at=b.AT, step_id="q", attempt=1, answer=(0, 2), display="a; c"),
    AnswerSubmitted(at=b.AT, step_id="q", attempt=1, answer=False, display="False"),
    AnswerSubmitted(at=b.AT, step_id="q", attempt=1, answer="free text ✓", display="free text ✓"),
    GRADED_BY_LLM,
    AnswerGraded(
        at=b.AT,
        step_id="q",
        attempt=2,
        score=20.0,
        max_points=20,
        available=20.0,
        passed=True,
        feedback="Correct!",
        grader="engine",
    ),
    HintRequested(at=b.AT, step_id="q", hint_index=1),
    HintGiven(
        at=b.AT, step_id="q", hint_index=0, text="Think.", source="authored", cost_points=2.0
    ),
    HintGiven(
        at=b.AT,
        step_id="q",
        hint_index=1,
        text="Reuse?",
        source="openai",
        cost_points=2.0,
        trace=TRACE,
    ),
    StepClosed(at=b.AT, step_id="q", index=0, score=20.0, passed=True, explanation="Because."),
    StepClosed(at=b.AT, step_id="q", index=0, score=0.0, passed=False),
    SessionCompleted(at=b.AT, score=40.0, max_score=50, passed=True, xp_granted=80),
    SessionAbandoned(at=b.AT),
    GradeReviewed(
        at=b.AT,
        step_id="q",
        attempt=1,
        score=10.0,
        max_points=20,
        passed=False,
        previous_score=20.0,
        previous_passed=True,
        step_score=10.0,
        step_passed=False,
        session_score=30.0,
        items=(ItemResult("a", 10.0, 20, "half"),),
        comment="Not quite.",
        result_passed=False,
        xp_granted=0,
        xp_change=-80,
    ),
]


def roundtrip(event: Event) -> Event:
    stored = json.loads(json.dumps(encode(event)))
    return decode(event.NAME, event.SCHEMA_VERSION, stored)


def dumps(state: SessionState) -> str:
    return json.dumps(state_to_dict(state), sort_keys=True)


# --- events --------------------------------------------------------------------------------------


def test_the_samples_cover_every_event_type():
    assert {type(e) for e in SAMPLE_EVENTS} == set(EVENT_TYPES.values())
    assert all(name == cls.NAME for name, cls in EVENT_TYPES.items())


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_survives_encoding_to_json_and_back(event):
    assert roundtrip(event) == event


def test_encoded_events_carry_no_python_import_paths():
    for event in SAMPLE_EVENTS:
        assert "core." not in json.dumps(encode(event))


def test_an_unknown_event_name_cannot_be_decoded():
    with pytest.raises(UnknownEvent):
        decode("SessionExploded", 1, {"at": b.AT})


def test_an_event_from_a_newer_schema_cannot_be_decoded():
    with pytest.raises(UnknownEvent):
        decode("SessionStarted", SessionStarted.SCHEMA_VERSION + 1, {"at": b.AT})


def test_event_data_that_does_not_match_its_schema_cannot_be_decoded():
    with pytest.raises(UnknownEvent):
        decode("StepClosed", 1, {"at": b.AT, "step_id": "q"})


def test_an_old_event_is_upcast_before_decoding(monkeypatch):
    monkeypatch.setattr(StepClosed, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(
        UPCASTERS,
        ("StepClosed", 1),
        lambda data: {**data, "score": float(data.pop("points"))},
    )

    event = decode(
        "StepClosed", 1, {"at": b.AT, "step_id": "q", "index": 0, "points": 5, "passed": True}
    )

    assert event == StepClosed(at=b.AT, step_id="q", index=0, score=5.0, passed=True)


def test_an_old_event_without_an_upcaster_cannot_be_decoded(monkeypatch):
    monkeypatch.setattr(StepClosed, "SCHEMA_VERSION", 2)

    with pytest.raises(UnknownEvent):
        decode(
            "StepClosed",
            1,
            encode(StepClosed(at=b.AT, step_id="q", index=0, score=1.0, passed=True)),
        )


# --- state ---------------------------------------------------------------------------------------


def _rich_state() -> SessionState:
    ch = b.challenge(b.mcq("a", points=20, hints=("h",)), b.chat("why", narrate=True))
    events = [
        *b.on_step(ch, 1, scores=[18.0]),
        StepNarrated(at=b.AT, step_id="why", text="Tell me.", source="openai", trace=TRACE),
        AnswerSubmitted(at=b.AT, step_id="why", attempt=1, answer="x", display="x"),
        replace(GRADED_BY_LLM, step_id="why"),  # items, flags and a provisional trace
        AnswerSubmitted(at=b.AT, step_id="why", attempt=2, answer="reuse", display="reuse"),
    ]
    return fold(events)


def test_state_survives_to_dict_and_back():
    state = _rich_state()

    assert state_from_dict(state_to_dict(state)) == state


def test_a_state_dict_is_the_plain_state_with_every_key_in_order():
    # Snapshots are written as canonical JSON (sorted keys): the order spares the encoder's sort
    # work, and changes nothing else.
    state = _rich_state()
    data = state_to_dict(state)

    assert data == to_plain(state)
    assert json.dumps(data) == json.dumps(to_plain(state), sort_keys=True)


def test_state_survives_a_json_snapshot():
    state = _rich_state()

    restored = state_from_dict(json.loads(json.dumps(state_to_dict(state))))

    assert restored == state
    assert dumps(restored) == dumps(state)


def test_a_completed_state_survives_a_json_snapshot():
    ch = b.challenge(b.mcq("a", points=20))
    state = fold(
        [
            *b.on_step(ch, 0),
            StepClosed(at=b.AT, step_id="a", index=0, score=20.0, passed=True, explanation="E"),
            SessionCompleted(at=b.AT, score=20.0, max_score=20, passed=True, xp_granted=100),
        ]
    )

    assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state


def test_the_transcript_keeps_only_the_latest_entries():
    steps = [b.mcq(f"q{i}", correct=0, explanation=f"why {i}") for i in range(15)]
    ch = b.challenge(*steps)
    state = b.given(b.on_step(ch, 0))
    for step in steps:
        for answer in (1, 2):  # two wrong answers: answer, feedback ×2, explanation
            state = run(ch, state, SubmitAnswer(at=b.LATER, step_id=step.id, answer=answer))[0]

    assert state.status.value == "completed"
    assert len(state.transcript) == TRANSCRIPT_LIMIT
    assert state.transcript[-1].kind == "explanation"
    assert state.transcript[-1].text == "why 14"


# --- the property: any command sequence replays to the live state --------------------------------


def _steps(suffix: str) -> list[StepSpec]:
    return [
        b.gate(f"welcome{suffix}", narrate=True),
        b.mcq(
            f"pick{suffix}",
            points=20,
            hints=("h1",),
            max_llm_hints=1,
            narrate=True,
            explanation="E1",
        ),
        b.multi(
            f"many{suffix}", points=30, correct=(0, 1, 2), n_choices=5, hints=("m",), hint_cost=40
        ),
        b.true_false(f"tf{suffix}", answer=False, points=10, max_llm_hints=2, max_attempts=3),
        b.chat(
            f"why{suffix}", hints=("c1", "c2"), max_llm_hints=3, max_attempts=5, explanation="E2"
        ),
        b.mcq(f"pick2{suffix}", points=7, correct=2, max_attempts=4, hint_cost=33, max_llm_hints=4),
        b.chat(f"why2{suffix}", rubric=(("a", 3), ("b", 4)), max_attempts=2, narrate=True),
    ]


# Long enough, with enough retries and hints, that the transcript limit is reached.
CHALLENGE: ChallengeSpec = b.challenge(
    *_steps(""), *_steps("-again"), b.gate("end", narrate=True), xp=120, passing_score=60
)
STEP_IDS = [step.id for step in CHALLENGE.steps]
RUBRIC_IDS = ["reuse", "organisation", "a", "b", "bogus"]

answers = st.one_of(
    st.integers(-2, 6),
    st.booleans(),
    st.text(max_size=30),
    st.lists(st.integers(-1, 6), max_size=6),
    st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    st.sampled_from(["", "   ", "a" * 5001, "a" * 5000, "false", "1"]),
)
points = st.one_of(
    st.integers(-20, 40),
    st.floats(-20, 40, allow_nan=False),
    st.sampled_from([float("inf"), float("-inf"), 2.675, 1 / 3]),
)
traces = st.one_of(st.none(), st.just(TRACE))
KINDS = [
    *["good"] * 5,
    *["answer"] * 3,
    *["hint"] * 3,
    *["record_hint"] * 2,
    *["evaluate"] * 2,
    *["narrate"] * 2,
    "continue",
    "start",
]


def good_command(state: SessionState, at: str, data: st.DataObject) -> Command:
    """A command that fits the current step, so sequences get deep into the challenge."""
    current = state.current
    if current is None:
        return StartSession(at=at)
    step = CHALLENGE.steps[current.index]
    if current.pending_hint is not None:
        return RecordHint(
            at=at,
            step_id=step.id,
            hint_index=current.pending_hint,
            text="Ask why.",
            source="gemini",
        )
    xp_granted = data.draw(st.booleans())
    match step.kind:
        case StepKind.GATE:
            return ContinueGate(at=at, step_id=step.id, xp_already_granted=xp_granted)
        case StepKind.MCQ:
            right = next(iter(step.correct_choices))
            return SubmitAnswer(at=at, step_id=step.id, answer=right, xp_already_granted=xp_granted)
        case StepKind.MULTI:
            picked = tuple(sorted(step.correct_choices))
            return SubmitAnswer(at=at, step_id=step.id, answer=picked)
        case StepKind.TRUE_FALSE:
            assert step.answer is not None
            return SubmitAnswer(at=at, step_id=step.id, answer=step.answer)
    if current.pending_attempt is None:
        return SubmitAnswer(at=at, step_id=step.id, answer=data.draw(st.text(min_size=1)) + "x")
    items = tuple(ItemVerdict(item.id, item.points) for item in step.rubric)
    return RecordEvaluation(
        at=at,
        step_id=step.id,
        attempt=current.pending_attempt,
        verdict=Verdict(items, "ok", "all there", "offline", data.draw(traces)),
        xp_already_granted=xp_granted,
    )


def random_command(state: SessionState, at: str, data: st.DataObject) -> Command:
    kind = data.draw(st.sampled_from(KINDS))
    if kind == "good":
        return good_command(state, at, data)
    current = state.current
    current_id = current.step_id if current is not None else "welcome"
    step_id = data.draw(st.one_of(st.just(current_id), st.sampled_from([*STEP_IDS, "ghost"])))
    if kind == "answer":
        return SubmitAnswer(
            at=at,
            step_id=step_id,
            answer=data.draw(answers),
            xp_already_granted=data.draw(st.booleans()),
        )
    if kind == "continue":
        return ContinueGate(at=at, step_id=step_id)
    if kind == "hint":
        return RequestHint(at=at, step_id=step_id)
    if kind == "record_hint":
        pending = current.pending_hint if current is not None else None
        index = data.draw(
            st.one_of(st.just(pending if pending is not None else 0), st.integers(0, 5))
        )
        return RecordHint(
            at=at,
            step_id=step_id,
            hint_index=index,
            text=data.draw(st.text(max_size=20)),
            source=data.draw(st.sampled_from(["openai", "offline", "authored"])),
            trace=data.draw(traces),
        )
    if kind == "evaluate":
        pending = current.pending_attempt if current is not None else None
        attempt = data.draw(st.one_of(st.just(pending or 1), st.integers(0, 6)))
        items = data.draw(
            st.lists(
                st.builds(ItemVerdict, st.sampled_from(RUBRIC_IDS), points, st.text(max_size=10)),
                max_size=5,
            )
        )
        flags = data.draw(st.lists(st.sampled_from(["injection_attempt", "off_topic"]), max_size=2))
        return RecordEvaluation(
            at=at,
            step_id=step_id,
            attempt=attempt,
            verdict=Verdict(tuple(items), "fb", "why", "grader", data.draw(traces), tuple(flags)),
            xp_already_granted=data.draw(st.booleans()),
        )
    if kind == "narrate":
        return RecordNarration(
            at=at, step_id=step_id, text=data.draw(st.text(max_size=30)), source="offline"
        )
    return StartSession(at=at)


def check_invariants(state: SessionState, events: list[Event]) -> None:
    assert 0 <= state.score <= state.max_score
    assert len(state.transcript) <= TRANSCRIPT_LIMIT
    if state.current is not None:
        assert 0 <= state.current.best_score <= state.current.points
        assert 0 <= state.current.available <= state.current.points
    for event in events:
        if isinstance(event, AnswerGraded):
            assert 0 <= event.score <= event.max_points
            assert event.score <= event.available
            assert all(0 <= item.points <= item.max_points for item in event.items)
        if isinstance(event, StepClosed):
            assert 0 <= event.score <= CHALLENGE.steps[event.index].points
        if isinstance(event, SessionCompleted):
            assert event.max_score == CHALLENGE.max_score
            assert 0 <= event.score <= event.max_score
            assert 0 <= event.xp_granted <= CHALLENGE.xp


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_command_sequence_replays_to_the_live_state(data):
    state = SessionState()
    log: list[Event] = []
    state, events = run(
        CHALLENGE, state, CreateSession(at="2024-05-01T09:59:59Z", session_id="s", learner_id="l")
    )
    log.extend(events)
    length = data.draw(st.integers(0, 150), label="length")
    abandon_at = data.draw(st.none() | st.integers(0, length), label="abandon at")
    for i in range(length):
        if state.status in (Status.COMPLETED, Status.ABANDONED):
            break
        at = f"2024-05-01T{10 + i // 60:02d}:{i % 60:02d}:00Z"
        if i == abandon_at:
            command: Command = AbandonSession(at=at)
        else:
            command = random_command(state, at, data)
        try:
            state, events = run(CHALLENGE, state, command)
        except DomainError:
            continue
        log.extend(events)
        check_invariants(state, events)

    live = dumps(state)
    assert state.version == len(log)
    # (a) folding the log from scratch rebuilds the live state, byte for byte
    assert dumps(fold(log)) == live
    # (b) so does folding the rest of the log onto a snapshot taken anywhere
    cut = data.draw(st.integers(0, len(log)), label="snapshot at")
    snapshot = state_from_dict(state_to_dict(fold(log[:cut])))
    assert dumps(fold(log[cut:], snapshot)) == live
    stored_snapshot = state_from_dict(json.loads(json.dumps(state_to_dict(fold(log[:cut])))))
    assert dumps(fold(log[cut:], stored_snapshot)) == live
    # (c) the log survives encoding to JSON and back
    decoded = [roundtrip(event) for event in log]
    assert decoded == log
    assert dumps(fold(decoded)) == live
