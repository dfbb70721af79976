"""The session view: the UI mode per step kind, the current step's counters, progress and result."""

from __future__ import annotations

import dataclasses

import pytest

from core.engine.commands import RequestHint, SubmitAnswer
from core.engine.events import (
    AnswerSubmitted,
    HintGiven,
    HintRequested,
    SessionAbandoned,
    SessionCompleted,
    StepClosed,
)
from core.engine.state import fold, state_from_dict, state_to_dict
from core.engine.view import UiMode, project_view
from tests.core.engine.builders import (
    AT,
    LATER,
    SESSION_ID,
    challenge,
    chat,
    created,
    gate,
    given,
    mcq,
    multi,
    on_step,
    play,
    true_false,
)

CH = challenge(
    gate("welcome"),
    mcq("what-is", points=20, hints=("Think reuse.",), max_llm_hints=1),
    multi("pick-all", points=30),
    true_false("must-return", points=20),
    chat("why"),
    xp=200,
    passing_score=70,
)


@pytest.mark.parametrize(
    ("index", "mode"),
    [
        (0, UiMode.CONTINUE_GATE),
        (1, UiMode.MCQ_SINGLE),
        (2, UiMode.MCQ_MULTI),
        (3, UiMode.TRUE_FALSE),
        (4, UiMode.CHAT),
    ],
)
def test_the_ui_mode_follows_the_current_step_kind(index, mode):
    view = project_view(CH, given(on_step(CH, index)))

    assert view.ui_mode is mode
    assert view.status == "active"
    assert view.step is not None
    assert view.step.id == CH.steps[index].id
    assert view.step.index == index


def test_a_completed_session_shows_the_completed_mode_and_no_step():
    state = given(
        [
            *on_step(CH, 4),
            StepClosed(at=AT, step_id="why", index=4, score=30.0, passed=True),
            SessionCompleted(at=AT, score=100.0, max_score=100, passed=True, xp_granted=200),
        ]
    )

    view = project_view(CH, state)

    assert view.ui_mode is UiMode.COMPLETED
    assert view.status == "completed"
    assert view.step is None


def test_ui_mode_values_are_the_published_names():
    assert {m.value for m in UiMode} >= {
        "CONTINUE_GATE",
        "MCQ_SINGLE",
        "MCQ_MULTI",
        "TRUE_FALSE",
        "CHAT",
        "COMPLETED",
    }


def test_a_created_session_is_not_started_and_has_no_step():
    view = project_view(CH, given([created(CH)]))

    assert view.status == "created"
    assert view.ui_mode is UiMode.NOT_STARTED
    assert view.step is None
    assert view.result is None


def test_an_abandoned_session_has_no_step():
    view = project_view(CH, given([*on_step(CH, 1), SessionAbandoned(at=AT)]))

    assert view.status == "abandoned"
    assert view.ui_mode is UiMode.ABANDONED
    assert view.step is None


def test_the_step_view_shows_texts_choices_and_fresh_counters():
    view = project_view(CH, given(on_step(CH, 1)))

    step = view.step
    assert step is not None
    assert (step.title, step.prompt, step.kind) == ("Step what-is", "Prompt of what-is", "mcq")
    assert step.choices == ("choice 0", "choice 1", "choice 2")
    assert (step.points, step.available) == (20, 20.0)
    assert (step.attempts_used, step.attempts_left) == (0, 2)
    assert step.hints_left == 2
    assert (step.awaiting_grade, step.awaiting_hint) == (False, False)


def test_the_step_view_never_shows_which_choice_is_correct():
    view = project_view(CH, given(on_step(CH, 1)))

    assert all(isinstance(choice, str) for choice in view.step.choices)


def test_attempts_left_and_hints_left_count_down():
    state = given(on_step(CH, 1))
    state = fold(
        play(
            CH,
            RequestHint(at=LATER, step_id="what-is"),
            SubmitAnswer(at=LATER, step_id="what-is", answer=1),
            state=state,
        ),
        state,
    )

    step = project_view(CH, state).step
    assert step is not None
    assert (step.attempts_used, step.attempts_left) == (1, 1)
    assert step.hints_left == 1
    assert step.available == 18.0


def test_a_pending_hint_and_a_pending_grade_are_shown():
    hint_state = given(
        [
            *on_step(CH, 1),
            HintGiven(
                at=AT,
                step_id="what-is",
                hint_index=0,
                text="Think reuse.",
                source="authored",
                cost_points=2.0,
            ),
            HintRequested(at=AT, step_id="what-is", hint_index=1),
        ]
    )
    grade_state = given(
        [
            *on_step(CH, 4),
            AnswerSubmitted(at=AT, step_id="why", attempt=1, answer="reuse", display="reuse"),
        ]
    )

    assert project_view(CH, hint_state).step.awaiting_hint is True
    assert project_view(CH, grade_state).step.awaiting_grade is True
    assert project_view(CH, grade_state).step.attempts_left == 3


def test_progress_shows_the_step_index_and_scores():
    view = project_view(CH, given(on_step(CH, 3, scores=[0, 20, 10])))

    assert view.progress.step_index == 3
    assert view.progress.total_steps == 5
    assert view.progress.score == 30.0
    assert view.progress.max_score == 100


def test_the_result_shows_percent_and_xp():
    state = given(
        [
            *on_step(CH, 4, scores=[0, 20, 20, 20]),
            StepClosed(at=AT, step_id="why", index=4, score=15.5, passed=False),
            SessionCompleted(at=AT, score=75.5, max_score=100, passed=True, xp_granted=151),
        ]
    )

    view = project_view(CH, state)

    assert view.result is not None
    assert view.result.passed is True
    assert view.result.score == 75.5
    assert view.result.max_score == 100
    assert view.result.percent == 75.5
    assert view.result.xp_granted == 151
    assert view.result.passing_score == 70
    assert view.progress.step_index == 5


def test_the_result_percent_is_rounded_to_two_decimals():
    ch = challenge(mcq("a", points=3))
    state = given(
        [
            *on_step(ch, 0),
            StepClosed(at=AT, step_id="a", index=0, score=2.0, passed=False),
            SessionCompleted(at=AT, score=2.0, max_score=3, passed=False, xp_granted=0),
        ]
    )

    assert project_view(ch, state).result.percent == 66.67


def test_the_view_carries_identity_transcript_and_version():
    events = [
        *on_step(CH, 1),
        HintGiven(
            at=LATER,
            step_id="what-is",
            hint_index=0,
            text="Think reuse.",
            source="authored",
            cost_points=2.0,
        ),
    ]

    view = project_view(CH, given(events))

    assert view.session_id == SESSION_ID
    assert (view.challenge_id, view.challenge_version, view.title) == ("demo", 3, "Demo challenge")
    assert view.version == len(events)
    assert (view.created_at, view.updated_at) == (AT, LATER)
    assert [(e.kind, e.text) for e in view.transcript] == [("hint", "Think reuse.")]


def test_a_state_viewed_again_gives_the_same_view_and_an_equal_state_its_own() -> None:
    state = given(on_step(CH, 1))
    first = project_view(CH, state)

    assert project_view(CH, state) is first  # a read after the write that answered with it
    copy = state_from_dict(state_to_dict(state))
    assert copy == state and copy is not state
    rebuilt = project_view(CH, copy)
    assert rebuilt == first and rebuilt is not first
    moved = fold(play(CH, SubmitAnswer(at=LATER, step_id="what-is", answer=0), state=state), state)
    assert project_view(CH, moved).version > first.version


def test_learners_at_the_same_point_of_a_step_share_its_view_and_others_get_their_own():
    ch = challenge(mcq("pick", points=20, max_attempts=3))
    first = project_view(ch, given(on_step(ch, 0)))
    second = project_view(ch, given(on_step(ch, 0)))  # another learner, at the same point
    assert second is not first and second.step is first.step

    state = given(on_step(ch, 0))
    assert state.current is not None
    tried = dataclasses.replace(state, current=dataclasses.replace(state.current, attempts=1))
    step = project_view(ch, tried).step
    assert step is not None and step is not first.step
    assert (step.attempts_used, step.attempts_left) == (1, 2)

    # 20 - 0 is 20 and 20 - 0.0 is 20.0: equal values, written differently, so not shared
    as_int = dataclasses.replace(state.current, hint_cost_points=0)
    as_float = dataclasses.replace(state.current, hint_cost_points=0.0)
    int_step = project_view(ch, dataclasses.replace(state, current=as_int)).step
    float_step = project_view(ch, dataclasses.replace(state, current=as_float)).step
    assert int_step is not None and float_step is not None
    assert type(int_step.available) is int and type(float_step.available) is float
