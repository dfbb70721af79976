"""Completion: after the last step; passed by passing_score; XP once, scaled by the score."""

from __future__ import annotations

import pytest

from core.engine.commands import ContinueGate, SubmitAnswer
from core.engine.events import SessionCompleted, StepClosed
from core.engine.scoring import level_for, passes, xp_for
from core.engine.state import Result, Status, fold
from core.engine.view import UiMode, project_view
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
    true_false,
    when,
)

CH = challenge(
    gate("welcome"),
    mcq("a", points=20),
    true_false("b", points=20, answer=True),
    xp=100,
    passing_score=70,
)


def test_closing_the_last_step_completes_the_session():
    state = given(on_step(CH, 2))

    events = when(CH, state, SubmitAnswer(at=LATER, step_id="b", answer=True))

    then(
        events[2:],
        [
            StepClosed(at=LATER, step_id="b", index=2, score=20.0, passed=True),
            SessionCompleted(at=LATER, score=40.0, max_score=40, passed=True, xp_granted=100),
        ],
    )
    after = fold(events, state)
    assert after.status is Status.COMPLETED
    assert after.finished_at == LATER
    assert after.current is None
    assert after.step_index == 3
    assert after.result == Result(passed=True, score=40.0, max_score=40, xp_granted=100)


def test_a_session_is_not_completed_before_its_last_step_closes():
    events = when(CH, given(on_step(CH, 1)), SubmitAnswer(at=LATER, step_id="a", answer=0))

    assert not any(isinstance(e, SessionCompleted) for e in events)


def test_failing_the_last_step_still_completes_the_session():
    ch = challenge(mcq("a", points=20), mcq("b", points=20, max_attempts=1), passing_score=50)

    events = when(ch, given(on_step(ch, 1)), SubmitAnswer(at=LATER, step_id="b", answer=2))

    assert events[-1] == SessionCompleted(
        at=LATER, score=20.0, max_score=40, passed=True, xp_granted=50
    )


@pytest.mark.parametrize(
    ("earned_first", "passed"),
    [(50.0, True), (49.99, False), (60.0, True), (0.0, False)],
)
def test_the_result_passes_when_the_total_reaches_passing_score_percent(earned_first, passed):
    # max 100 (80 + 20), passing 70 %: the last step adds 20.
    ch = challenge(mcq("a", points=80), true_false("b", points=20, answer=True), passing_score=70)

    events = when(
        ch,
        given(on_step(ch, 1, scores=[earned_first])),
        SubmitAnswer(at=LATER, step_id="b", answer=True),
    )

    completed = events[-1]
    assert isinstance(completed, SessionCompleted)
    assert completed.score == round(earned_first + 20, 2)
    assert completed.passed is passed


def test_xp_is_scaled_by_the_score_and_rounded():
    ch = challenge(mcq("a", points=20), true_false("b", points=20, answer=True), xp=150)

    events = when(
        ch, given(on_step(ch, 1, scores=[9.0])), SubmitAnswer(at=LATER, step_id="b", answer=True)
    )

    # 150 × 29 / 40 = 108.75 → 109
    assert events[-1] == SessionCompleted(
        at=LATER, score=29.0, max_score=40, passed=True, xp_granted=109
    )


def test_a_failed_result_grants_no_xp():
    ch = challenge(mcq("a", points=20), true_false("b", points=20, answer=True))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="b", answer=False),
        SubmitAnswer(at=LATER, step_id="b", answer=False),
        state=given(on_step(ch, 1)),
    )

    assert events[-1] == SessionCompleted(
        at=LATER, score=20.0, max_score=40, passed=False, xp_granted=0
    )


def test_xp_already_granted_for_this_challenge_grants_none_on_an_answer():
    events = when(
        CH,
        given(on_step(CH, 2)),
        SubmitAnswer(at=LATER, step_id="b", answer=True, xp_already_granted=True),
    )

    assert events[-1] == SessionCompleted(
        at=LATER, score=40.0, max_score=40, passed=True, xp_granted=0
    )


def test_xp_already_granted_grants_none_on_a_final_gate():
    ch = challenge(mcq("a", points=10), gate("bye"))

    events = when(
        ch, given(on_step(ch, 1)), ContinueGate(at=LATER, step_id="bye", xp_already_granted=True)
    )

    assert events[-1] == SessionCompleted(
        at=LATER, score=10.0, max_score=10, passed=True, xp_granted=0
    )


def test_xp_already_granted_grants_none_on_a_final_evaluation():
    ch = challenge(chat("why"))
    state = pending_chat(ch, 1)
    full_marks = (("reuse", 15), ("organisation", 15))

    granted = when(ch, state, evaluate(1, *full_marks))
    withheld = when(ch, state, evaluate(1, *full_marks, xp_already_granted=True))

    assert granted[-1].xp_granted == 100
    assert withheld[-1] == SessionCompleted(
        at=LATER, score=30.0, max_score=30, passed=True, xp_granted=0
    )


def test_max_score_is_the_sum_of_step_points_whatever_happens():
    ch = challenge(gate("g"), mcq("a", points=20, max_attempts=1), mcq("b", points=15), xp=10)
    state = given(on_step(ch, 1))

    events = play(
        ch,
        SubmitAnswer(at=LATER, step_id="a", answer=1),  # failed and closed
        SubmitAnswer(at=LATER, step_id="b", answer=0),
        state=state,
    )

    assert ch.max_score == 35
    assert events[-1] == SessionCompleted(
        at=LATER, score=15.0, max_score=35, passed=False, xp_granted=0
    )
    assert fold(events, state).max_score == 35


def test_the_completed_view_shows_the_result():
    state = given(
        [
            *on_step(CH, 2),
            StepClosed(at=AT, step_id="b", index=2, score=10.0, passed=False),
            SessionCompleted(at=AT, score=30.0, max_score=40, passed=True, xp_granted=75),
        ]
    )

    view = project_view(CH, state)

    assert view.ui_mode is UiMode.COMPLETED
    assert view.result is not None
    assert (view.result.passed, view.result.score, view.result.percent) == (True, 30.0, 75.0)
    assert view.result.xp_granted == 75


# --- the pure scoring functions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xp", "score", "max_score", "granted"),
    [
        (100, 40, 40, 100),
        (100, 28, 40, 70),
        (100, 5, 8, 63),  # 62.5 rounds half up
        (100, 7, 8, 88),  # 87.5
        (150, 29, 40, 109),  # 108.75
        (100, 33.33, 100, 33),
        (0, 10, 10, 0),
    ],
)
def test_xp_for_is_xp_times_score_over_max_rounded(xp, score, max_score, granted):
    assert xp_for(xp, score, max_score) == granted


@pytest.mark.parametrize(
    ("total_xp", "level"),
    [(0, 1), (1, 1), (499, 1), (500, 2), (501, 2), (999, 2), (1000, 3), (2749, 6)],
)
def test_level_is_one_plus_floor_of_xp_over_five_hundred(total_xp, level):
    assert level_for(total_xp) == level


@pytest.mark.parametrize(
    ("score", "points", "threshold", "expected"),
    [(6, 10, 60, True), (5.99, 10, 60, False), (20, 20, 100, True), (19.99, 20, 100, False)],
)
def test_passes_compares_the_score_with_the_threshold_percent(score, points, threshold, expected):
    assert passes(score, points, threshold) is expected


def test_level_bounds_are_where_a_level_begins_and_the_next_one_does():
    from core.engine.scoring import level_bounds, level_for

    assert level_bounds(1) == (0, 500) and level_bounds(3) == (1000, 1500)
    assert level_for(level_bounds(3)[0]) == 3 and level_for(level_bounds(3)[1]) == 4
