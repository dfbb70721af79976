"""Hints: authored first, in order, then LLM hints; each lowers what the step can still earn."""

from __future__ import annotations

import pytest

from core.engine.challenge import StepSpec
from core.engine.commands import RecordHint, RequestHint, SubmitAnswer
from core.engine.events import (
    AnswerGraded,
    HintGiven,
    HintRequested,
    LlmTrace,
    SessionCompleted,
    StepClosed,
)
from core.engine.scoring import hint_cost
from core.engine.state import fold
from core.errors import AnswerConflict, Conflict, NoHintsLeft
from tests.core.engine.builders import (
    AT,
    LATER,
    challenge,
    chat,
    evaluate,
    gate,
    given,
    mcq,
    on_step,
    pending_chat,
    play,
    then,
    when,
)

TRACE = LlmTrace(provider="anthropic", model="claude", prompt_hash="h", tokens_in=3, tokens_out=4)


def hinted_mcq(**overrides) -> StepSpec:
    options = {
        "points": 20,
        "correct": 0,
        "hints": ("First hint.", "Second hint."),
        "max_llm_hints": 1,
    }
    options.update(overrides)
    return mcq("q", **options)


def hint_given(index: int, text: str, *, source: str = "authored", cost: float = 2.0, **kw):
    return HintGiven(
        at=LATER, step_id="q", hint_index=index, text=text, source=source, cost_points=cost, **kw
    )


CH = challenge(hinted_mcq(), gate("end"))


def test_the_first_hint_is_the_first_authored_hint():
    events = when(CH, given(on_step(CH, 0)), RequestHint(at=LATER, step_id="q"))

    then(events, [hint_given(0, "First hint.")])


def test_authored_hints_come_in_order():
    state = given([*on_step(CH, 0), hint_given(0, "First hint.")])

    then(when(CH, state, RequestHint(at=LATER, step_id="q")), [hint_given(1, "Second hint.")])


def test_after_the_authored_hints_an_llm_hint_is_requested():
    state = given([*on_step(CH, 0), hint_given(0, "First hint."), hint_given(1, "Second hint.")])

    events = when(CH, state, RequestHint(at=LATER, step_id="q"))

    then(events, [HintRequested(at=LATER, step_id="q", hint_index=2)])
    assert fold(events, state).current.pending_hint == 2


def test_a_requested_llm_hint_is_recorded_as_given():
    state = given(
        [
            *on_step(CH, 0),
            hint_given(0, "First hint."),
            hint_given(1, "Second hint."),
            HintRequested(at=AT, step_id="q", hint_index=2),
        ]
    )

    events = when(
        CH,
        state,
        RecordHint(
            at=LATER, step_id="q", hint_index=2, text="Think DRY.", source="anthropic", trace=TRACE
        ),
    )

    then(events, [hint_given(2, "Think DRY.", source="anthropic", trace=TRACE)])
    after = fold(events, state)
    assert after.current.hints_left == 0
    assert after.current.pending_hint is None
    assert after.transcript[-1].kind == "hint"
    assert after.transcript[-1].text == "Think DRY."


def test_asking_again_while_an_llm_hint_is_pending_adds_nothing():
    ch = challenge(hinted_mcq(hints=()), gate("end"))
    state = given([*on_step(ch, 0), HintRequested(at=AT, step_id="q", hint_index=0)])

    then(when(ch, state, RequestHint(at=LATER, step_id="q")), [])


def test_a_step_with_only_llm_hints_requests_one_first():
    ch = challenge(hinted_mcq(hints=(), max_llm_hints=2), gate("end"))

    events = when(ch, given(on_step(ch, 0)), RequestHint(at=LATER, step_id="q"))

    then(events, [HintRequested(at=LATER, step_id="q", hint_index=0)])


def test_recording_a_hint_that_was_not_requested_conflicts():
    with pytest.raises(Conflict):
        when(
            CH,
            given(on_step(CH, 0)),
            RecordHint(at=LATER, step_id="q", hint_index=0, text="x", source="openai"),
        )


def test_recording_a_hint_with_another_index_conflicts():
    state = given(
        [
            *on_step(CH, 0),
            hint_given(0, "First hint."),
            hint_given(1, "Second hint."),
            HintRequested(at=AT, step_id="q", hint_index=2),
        ]
    )

    with pytest.raises(Conflict):
        when(CH, state, RecordHint(at=LATER, step_id="q", hint_index=1, text="x", source="gemini"))


def test_no_hints_left_once_every_hint_is_taken():
    state = given(
        [
            *on_step(CH, 0),
            hint_given(0, "First hint."),
            hint_given(1, "Second hint."),
            hint_given(2, "Think DRY.", source="anthropic"),
        ]
    )

    with pytest.raises(NoHintsLeft):
        when(CH, state, RequestHint(at=LATER, step_id="q"))


def test_a_step_without_hints_has_none_to_give():
    ch = challenge(mcq("q"), gate("end"))

    with pytest.raises(NoHintsLeft):
        when(ch, given(on_step(ch, 0)), RequestHint(at=LATER, step_id="q"))


def test_a_gate_has_no_hints():
    ch = challenge(gate("start"), mcq("q"))

    with pytest.raises(NoHintsLeft):
        when(ch, given(on_step(ch, 0)), RequestHint(at=LATER, step_id="start"))


# --- cost ----------------------------------------------------------------------------------------


def test_each_hint_lowers_what_the_step_can_still_earn():
    state = given(on_step(CH, 0))
    availability = [state.current.available]
    for _ in range(2):
        state = fold(when(CH, state, RequestHint(at=LATER, step_id="q")), state)
        availability.append(state.current.available)

    assert availability == [20.0, 18.0, 16.0]
    assert state.current.hints_taken == 2


@pytest.mark.parametrize(
    ("points", "cost_percent", "cost"), [(20, 10, 2.0), (30, 25, 7.5), (7, 10, 0.7), (3, 33, 0.99)]
)
def test_a_hint_costs_hint_cost_percent_of_the_step_points(points, cost_percent, cost):
    ch = challenge(hinted_mcq(points=points, hint_cost=cost_percent), gate("end"))

    events = when(ch, given(on_step(ch, 0)), RequestHint(at=LATER, step_id="q"))

    assert events[0].cost_points == cost
    assert hint_cost(points, cost_percent) == cost


def test_hints_never_lower_what_a_step_can_earn_below_zero():
    ch = challenge(hinted_mcq(hint_cost=40, hints=("a", "b", "c"), max_llm_hints=0), gate("end"))
    state = given(on_step(ch, 0))
    for _ in range(3):
        state = fold(when(ch, state, RequestHint(at=LATER, step_id="q")), state)

    assert state.current.available == 0.0
    events = when(ch, state, SubmitAnswer(at=LATER, step_id="q", answer=0))
    assert events[1].score == 0.0
    assert events[1].available == 0.0
    assert events[1].passed is True
    assert events[2] == StepClosed(at=LATER, step_id="q", index=0, score=0.0, passed=True)


def test_a_right_answer_after_a_hint_passes_with_the_reduced_score():
    state = given([*on_step(CH, 0), hint_given(0, "First hint.")])

    events = when(CH, state, SubmitAnswer(at=LATER, step_id="q", answer=0))

    assert events[1].score == 18.0
    assert events[1].available == 18.0
    assert events[1].max_points == 20
    assert events[1].passed is True
    assert events[2] == StepClosed(at=LATER, step_id="q", index=0, score=18.0, passed=True)


def test_a_hint_between_attempts_caps_only_the_later_attempt():
    ch = challenge(chat("why", hints=("Think reuse.",)), gate("end"))
    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="why", answer="first"),
        evaluate(1, ("reuse", 15)),  # 15 of 30: fails, earned before any hint
        RequestHint(at=LATER, step_id="why"),  # costs 3
        SubmitAnswer(at=LATER, step_id="why", answer="second"),
        evaluate(2, ("reuse", 15), ("organisation", 15)),
        state=given(on_step(ch, 0)),
    )

    graded = [e for e in events if isinstance(e, AnswerGraded)]
    assert [g.score for g in graded] == [15.0, 27.0]
    assert [g.passed for g in graded] == [False, True]
    assert events[-2] == StepClosed(at=LATER, step_id="why", index=0, score=27.0, passed=True)


def test_a_chat_evaluation_is_capped_by_what_hints_left():
    ch = challenge(chat("why", hints=("a", "b"), hint_cost=25), gate("end"))
    events = play(
        ch,
        RequestHint(at=LATER, step_id="why"),
        RequestHint(at=LATER, step_id="why"),
        SubmitAnswer(at=LATER, step_id="why", answer="reuse and organisation"),
        evaluate(1, ("reuse", 15), ("organisation", 15)),
        state=given(on_step(ch, 0)),
    )

    graded = events[3]
    assert graded.score == 15.0
    assert graded.available == 15.0
    assert graded.passed is True


def test_hints_never_change_the_challenge_max_score():
    ch = challenge(hinted_mcq(), xp=100, passing_score=50)
    state = given(on_step(ch, 0))

    events = play(
        ch,
        RequestHint(at=LATER, step_id="q"),
        RequestHint(at=LATER, step_id="q"),
        SubmitAnswer(at=LATER, step_id="q", answer=0),
        state=state,
    )

    assert events[-1] == SessionCompleted(
        at=LATER, score=16.0, max_score=20, passed=True, xp_granted=80
    )
    after = fold(events, state)
    assert after.max_score == 20
    assert after.result.max_score == 20


def test_hints_taken_on_one_step_do_not_cost_the_next():
    ch = challenge(hinted_mcq(), mcq("r", points=10, hints=("x",)))
    state = given([*on_step(ch, 0), hint_given(0, "First hint.")])

    state = fold(when(ch, state, SubmitAnswer(at=LATER, step_id="q", answer=0)), state)

    assert state.current.step_id == "r"
    assert state.current.available == 10.0
    assert state.current.hints_left == 1
    assert state.score == 18.0


def test_a_recorded_llm_hint_never_grades_the_step():
    ch = challenge(chat("why", max_llm_hints=1), gate("end"))
    state = given([*on_step(ch, 0), HintRequested(at=AT, step_id="why", hint_index=0)])

    events = when(
        ch, state, RecordHint(at=LATER, step_id="why", hint_index=0, text="t", source="offline")
    )

    assert [type(e) for e in events] == [HintGiven]


def test_a_hint_is_refused_while_an_answer_is_being_graded():
    ch = challenge(chat("why", hints=("a",), hint_cost=50), gate("end"))
    state = pending_chat(ch)

    with pytest.raises(AnswerConflict):
        when(ch, state, RequestHint(at=LATER, step_id="why"))
