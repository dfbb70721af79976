"""mcq, multi and true_false steps: answer shapes, scoring, thresholds, attempts, best attempt."""

from __future__ import annotations

import pytest

from core.engine.challenge import DEFAULT_MAX_ATTEMPTS, DEFAULT_PASS_THRESHOLD, StepKind
from core.engine.commands import SubmitAnswer
from core.engine.events import AnswerGraded, AnswerSubmitted, StepClosed
from core.engine.scoring import multi_credit
from core.engine.state import fold
from core.errors import InvalidAnswer
from tests.core.engine.builders import (
    LATER,
    challenge,
    entered,
    gate,
    given,
    mcq,
    multi,
    on_step,
    play,
    then,
    true_false,
    when,
)


def graded(step, attempt, score, *, passed, feedback, available=None):
    return AnswerGraded(
        at=LATER,
        step_id=step.id,
        attempt=attempt,
        score=score,
        max_points=step.points,
        available=float(step.points) if available is None else available,
        passed=passed,
        feedback=feedback,
        grader="engine",
    )


# --- mcq -----------------------------------------------------------------------------------------


def test_right_mcq_choice_earns_full_points_and_moves_on():
    ch = challenge(mcq("what-is", points=20, correct=1), gate("next"))
    step = ch.steps[0]

    events = when(ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="what-is", answer=1))

    then(
        events,
        [
            AnswerSubmitted(at=LATER, step_id="what-is", attempt=1, answer=1, display="choice 1"),
            graded(step, 1, 20.0, passed=True, feedback="Correct!"),
            StepClosed(at=LATER, step_id="what-is", index=0, score=20.0, passed=True),
            entered(ch, 1, at=LATER),
        ],
    )


def test_wrong_mcq_choice_earns_nothing_and_shows_the_choice_feedback():
    ch = challenge(mcq("what-is", points=20, correct=0, feedback={2: "That is a variable."}))
    step = ch.steps[0]

    events = when(ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="what-is", answer=2))

    then(
        events,
        [
            AnswerSubmitted(at=LATER, step_id="what-is", attempt=1, answer=2, display="choice 2"),
            graded(step, 1, 0.0, passed=False, feedback="That is a variable."),
        ],
    )


@pytest.mark.parametrize(
    "answer",
    [True, False, -1, 3, 99, "0", 1.0, None, (0,), [0]],
    ids=repr,
)
def test_mcq_takes_only_an_int_index_in_range(answer):
    ch = challenge(mcq("what-is", n_choices=3))

    with pytest.raises(InvalidAnswer):
        when(ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="what-is", answer=answer))


def test_an_invalid_answer_uses_no_attempt():
    ch = challenge(mcq("what-is", max_attempts=1))
    state = given(on_step(ch, 0))

    with pytest.raises(InvalidAnswer):
        when(ch, state, SubmitAnswer(at=LATER, step_id="what-is", answer=True))
    events = when(ch, state, SubmitAnswer(at=LATER, step_id="what-is", answer=0))

    assert events[1].attempt == 1
    assert events[1].passed


# --- true_false ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "score", "passed"), [(False, 20.0, True), (True, 0.0, False)])
def test_true_false_earns_full_points_only_when_equal(answer, score, passed):
    ch = challenge(true_false("must-return", answer=False, points=20))
    step = ch.steps[0]

    events = when(
        ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="must-return", answer=answer)
    )

    assert events[:2] == [
        AnswerSubmitted(
            at=LATER, step_id="must-return", attempt=1, answer=answer, display=str(answer)
        ),
        graded(step, 1, score, passed=passed, feedback="Correct!" if passed else "Not quite."),
    ]


@pytest.mark.parametrize("answer", [0, 1, "false", "true", "False", None, (0,)], ids=repr)
def test_true_false_takes_a_boolean_only(answer):
    ch = challenge(true_false("must-return", answer=False))

    with pytest.raises(InvalidAnswer):
        when(
            ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="must-return", answer=answer)
        )


# --- multi ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("picked", "expected"),
    [
        ((0, 1, 2), 30.0),  # all right
        ((0, 1), 20.0),  # 2 right of 3
        ((0,), 10.0),  # 1 right of 3
        ((0, 1, 3), 10.0),  # (2 − 1) / 3
        ((0, 1, 2, 3), 20.0),  # (3 − 1) / 3
        ((0, 3), 0.0),  # (1 − 1) / 3
        ((0, 3, 4), 0.0),  # (1 − 2) / 3 is negative: clamped to 0
        ((3, 4, 5), 0.0),  # (0 − 3) / 3 clamped to 0
        ((0, 1, 2, 3, 4, 5), 0.0),  # picking everything earns nothing
    ],
)
def test_multi_gives_partial_credit(picked, expected):
    ch = challenge(multi("pick-all", points=30, correct=(0, 1, 2), n_choices=6))

    events = when(
        ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="pick-all", answer=picked)
    )

    assert events[1].score == expected
    assert multi_credit(30, {0, 1, 2}, set(picked)) == expected


def test_multi_partial_credit_is_kept_to_two_decimals():
    assert multi_credit(10, {0, 1, 2}, {0, 1}) == 6.67
    assert multi_credit(10, {0, 1, 2}, {0}) == 3.33


def test_multi_answer_is_normalised_to_sorted_unique_indices():
    ch = challenge(multi("pick-all", points=30, correct=(0, 1, 2)))

    events = when(
        ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="pick-all", answer=[2, 0, 2, 1])
    )

    assert events[0] == AnswerSubmitted(
        at=LATER,
        step_id="pick-all",
        attempt=1,
        answer=(0, 1, 2),
        display="option 0; option 1; option 2",
    )
    assert events[1].score == 30.0
    assert events[1].feedback == "All correct!"


@pytest.mark.parametrize(
    "answer", [(), [], 0, "0,1", (0, True), (0, 1.0), (0, 6), (-1,), None], ids=repr
)
def test_multi_takes_a_nonempty_list_of_int_indices_in_range(answer):
    ch = challenge(multi("pick-all", n_choices=6))

    with pytest.raises(InvalidAnswer):
        when(ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="pick-all", answer=answer))


# --- pass thresholds and attempts ----------------------------------------------------------------


def test_default_pass_thresholds_and_attempts_follow_the_rules():
    assert DEFAULT_PASS_THRESHOLD[StepKind.MCQ] == 100
    assert DEFAULT_PASS_THRESHOLD[StepKind.TRUE_FALSE] == 100
    assert DEFAULT_PASS_THRESHOLD[StepKind.MULTI] == 60
    assert DEFAULT_PASS_THRESHOLD[StepKind.CHAT] == 60
    assert DEFAULT_MAX_ATTEMPTS[StepKind.MCQ] == 2
    assert DEFAULT_MAX_ATTEMPTS[StepKind.TRUE_FALSE] == 2
    assert DEFAULT_MAX_ATTEMPTS[StepKind.MULTI] == 2
    assert DEFAULT_MAX_ATTEMPTS[StepKind.CHAT] == 3


@pytest.mark.parametrize(
    ("picked", "passed"),
    [
        ((0, 1, 2), True),  # 6 of 10: exactly 60 %
        ((0, 1, 2, 3), True),  # 8 of 10
        ((0, 1), False),  # 4 of 10
        ((0, 1, 2, 3, 5), True),  # (4 − 1) / 5 → 6 of 10
        ((0, 1, 2, 5), False),  # (3 − 1) / 5 → 4 of 10
    ],
)
def test_multi_passes_at_sixty_percent_by_default(picked, passed):
    ch = challenge(multi("pick-all", points=10, correct=(0, 1, 2, 3, 4), n_choices=6))

    events = when(
        ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="pick-all", answer=picked)
    )

    assert events[1].passed is passed


def test_multi_with_an_authored_threshold_uses_it():
    ch = challenge(multi("pick-all", points=30, correct=(0, 1, 2), pass_threshold=100))

    events = when(
        ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="pick-all", answer=(0, 1))
    )

    assert events[1].score == 20.0
    assert events[1].passed is False
    assert len(events) == 2  # still open: one attempt left


def test_mcq_with_a_lowered_threshold_of_zero_passes_a_wrong_answer():
    ch = challenge(mcq("what-is", points=20, correct=0, pass_threshold=0), gate("end"))

    events = when(ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="what-is", answer=1))

    assert events[1].score == 0.0
    assert events[1].passed is True
    assert events[2] == StepClosed(at=LATER, step_id="what-is", index=0, score=0.0, passed=True)


@pytest.mark.parametrize(
    ("step", "wrong"),
    [
        (mcq("q", correct=0, explanation="Because reuse."), 1),
        (true_false("q", answer=False, explanation="Because reuse."), True),
        (multi("q", correct=(0, 1, 2), explanation="Because reuse."), (3,)),
    ],
    ids=["mcq", "true_false", "multi"],
)
def test_a_choice_step_allows_two_attempts_then_closes_as_failed_with_its_explanation(step, wrong):
    ch = challenge(step, gate("next"))
    state = given(on_step(ch, 0))

    first = when(ch, state, SubmitAnswer(at=LATER, step_id="q", answer=wrong))
    assert [type(e) for e in first] == [AnswerSubmitted, AnswerGraded]
    state = fold(first, state)
    assert state.current is not None
    assert state.current.attempts_left == 1

    second = when(ch, state, SubmitAnswer(at=LATER, step_id="q", answer=wrong))

    assert second[1].attempt == 2
    assert second[2:] == [
        StepClosed(
            at=LATER, step_id="q", index=0, score=0.0, passed=False, explanation="Because reuse."
        ),
        entered(ch, 1, at=LATER),
    ]
    after = fold(second, state)
    assert after.transcript[-1].kind == "explanation"
    assert after.transcript[-1].text == "Because reuse."
    assert after.current is not None
    assert after.current.step_id == "next"
    assert after.steps_closed == 1
    assert after.steps_passed == 0


def test_a_right_answer_on_the_second_attempt_passes():
    ch = challenge(mcq("q", points=20, correct=0), gate("next"))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="q", answer=1),
        SubmitAnswer(at=LATER, step_id="q", answer=0),
        state=given(on_step(ch, 0)),
    )

    assert events[-2] == StepClosed(at=LATER, step_id="q", index=0, score=20.0, passed=True)


def test_an_authored_max_attempts_of_one_closes_after_one_wrong_answer():
    ch = challenge(mcq("q", correct=0, max_attempts=1), gate("next"))

    events = when(ch, given(on_step(ch, 0)), SubmitAnswer(at=LATER, step_id="q", answer=2))

    assert events[2] == StepClosed(at=LATER, step_id="q", index=0, score=0.0, passed=False)
    assert events[3] == entered(ch, 1, at=LATER)


def test_an_authored_max_attempts_of_three_keeps_the_step_open_after_two_wrong_answers():
    ch = challenge(mcq("q", correct=0, max_attempts=3), gate("next"))
    state = given(on_step(ch, 0))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="q", answer=1),
        SubmitAnswer(at=LATER, step_id="q", answer=2),
        state=state,
    )

    assert [type(e) for e in events] == [AnswerSubmitted, AnswerGraded] * 2
    after = fold(events, state)
    assert after.current is not None
    assert after.current.attempts_left == 1


def test_the_step_score_is_the_best_attempt_never_the_sum():
    # 10 of 30 on each attempt: a sum would give 20.
    ch = challenge(multi("pick-all", points=30, correct=(0, 1, 2)), gate("next"))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="pick-all", answer=(0,)),
        SubmitAnswer(at=LATER, step_id="pick-all", answer=(1,)),
        state=given(on_step(ch, 0)),
    )

    closed = [e for e in events if isinstance(e, StepClosed)]
    assert closed == [StepClosed(at=LATER, step_id="pick-all", index=0, score=10.0, passed=False)]


def test_a_worse_last_attempt_keeps_the_better_earlier_score():
    ch = challenge(multi("pick-all", points=30, correct=(0, 1, 2)), gate("next"))
    state = given(on_step(ch, 0))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="pick-all", answer=(0,)),  # 10
        SubmitAnswer(at=LATER, step_id="pick-all", answer=(3, 4)),  # 0
        state=state,
    )

    assert events[3].score == 0.0
    assert events[4] == StepClosed(at=LATER, step_id="pick-all", index=0, score=10.0, passed=False)
    assert fold(events, state).score == 10.0


def test_the_session_score_adds_each_closed_step_once():
    ch = challenge(mcq("a", points=20), true_false("b", points=20), gate("c"))
    state = given(on_step(ch, 0))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="a", answer=1),
        SubmitAnswer(at=LATER, step_id="a", answer=0),
        SubmitAnswer(at=LATER, step_id="b", answer=False),
        state=state,
    )

    after = fold(events, state)
    assert after.score == 40.0
    assert after.steps_closed == 2
    assert after.steps_passed == 2
