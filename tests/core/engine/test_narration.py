"""Narration: recorded once, for the current step, only when the step asks for it."""

from __future__ import annotations

import pytest

from core.engine.commands import ContinueGate, RecordNarration
from core.engine.events import LlmTrace, SessionAbandoned, StepNarrated
from core.engine.state import fold
from core.errors import Conflict, StepNotCurrent
from tests.core.engine.builders import (
    AT,
    LATER,
    challenge,
    created,
    gate,
    given,
    mcq,
    on_step,
    then,
    when,
)

CH = challenge(gate("welcome", narrate=True), mcq("q", narrate=False), gate("end", narrate=True))
TRACE = LlmTrace(provider="openai", model="gpt", prompt_hash="p", tokens_in=50, tokens_out=40)


def narrate(step_id: str, text: str = "Welcome, apprentice!") -> RecordNarration:
    return RecordNarration(at=LATER, step_id=step_id, text=text, source="openai", trace=TRACE)


def test_a_step_that_asks_for_narration_records_it():
    state = given(on_step(CH, 0))

    events = when(CH, state, narrate("welcome"))

    then(
        events,
        [
            StepNarrated(
                at=LATER,
                step_id="welcome",
                text="Welcome, apprentice!",
                source="openai",
                trace=TRACE,
            )
        ],
    )
    after = fold(events, state)
    assert after.current.narrated is True
    assert after.transcript[-1].kind == "narration"
    assert after.transcript[-1].text == "Welcome, apprentice!"


def test_a_step_is_narrated_once():
    state = given(
        [*on_step(CH, 0), StepNarrated(at=AT, step_id="welcome", text="Hi", source="offline")]
    )

    with pytest.raises(Conflict):
        when(CH, state, narrate("welcome", "Hi again"))


def test_a_step_without_narrate_takes_no_narration():
    with pytest.raises(Conflict):
        when(CH, given(on_step(CH, 1)), narrate("q"))


def test_narration_for_a_step_already_left_is_rejected():
    # The learner continued past the gate before the narration arrived.
    state = fold(
        when(CH, given(on_step(CH, 0)), ContinueGate(at=AT, step_id="welcome")),
        given(on_step(CH, 0)),
    )

    with pytest.raises(StepNotCurrent):
        when(CH, state, narrate("welcome"))


def test_narration_for_a_later_step_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given(on_step(CH, 0)), narrate("end"))


def test_narration_before_the_session_starts_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given([created(CH)]), narrate("welcome"))


def test_narration_after_the_session_is_abandoned_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given([*on_step(CH, 0), SessionAbandoned(at=AT)]), narrate("welcome"))


def test_the_next_narrated_step_can_be_narrated_after_moving_on():
    events = when(CH, given(on_step(CH, 2)), narrate("end", "Well done."))

    assert [e.step_id for e in events] == ["end"]
