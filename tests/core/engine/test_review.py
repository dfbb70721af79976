"""Reviews (issue 14): a person's verdict replaces the grader's on one chat attempt; the step, the
session total and, once complete, the result and XP follow. Given events, when a review, then
exactly this GradeReviewed event."""

from __future__ import annotations

import pytest

from core.engine.commands import (
    ContinueGate,
    CreateSession,
    ItemVerdict,
    ReviewGrade,
    StartSession,
    SubmitAnswer,
)
from core.engine.events import GradeReviewed, ItemResult, StepClosed, StepEntered
from core.engine.state import Result, fold, state_from_dict, state_to_dict
from core.errors import Conflict, InvalidInput, WrongAction
from tests.core.engine.builders import (
    AT,
    LATER,
    LEARNER_ID,
    SESSION_ID,
    challenge,
    chat,
    evaluate,
    gate,
    mcq,
    play,
    then,
    when,
)

REVIEWED_AT = "2024-05-02T09:00:00+00:00"
CH = challenge(chat("why", max_attempts=2), gate("end"), xp=100, passing_score=70)


def _completed(*points: tuple[str, float]) -> list:
    """A session whose only chat attempt was graded ``points`` (one attempt when it passes, two
    equal failing ones otherwise) and which is complete."""
    commands: list = [
        CreateSession(at=AT, session_id=SESSION_ID, learner_id=LEARNER_ID),
        StartSession(at=AT),
        SubmitAnswer(at=AT, step_id="why", answer="Reuse."),
        evaluate(1, *points),
    ]
    if sum(p for _, p in points) < 21:
        commands += [SubmitAnswer(at=AT, step_id="why", answer="Reuse."), evaluate(2, *points)]
    commands.append(ContinueGate(at=LATER, step_id="end"))
    return play(CH, *commands)


def _review(attempt: int = 1, **changes) -> ReviewGrade:
    return ReviewGrade(at=REVIEWED_AT, step_id="why", attempt=attempt, **changes)


def test_a_failed_grade_reviewed_as_a_pass_passes_the_session_and_grants_xp():
    state = fold(_completed(("reuse", 5), ("organisation", 5)))
    assert state.result is not None and not state.result.passed

    events = when(CH, state, _review(2, passed=True, comment="Right idea."))

    then(
        events,
        [
            GradeReviewed(
                at=REVIEWED_AT,
                step_id="why",
                attempt=2,
                score=30.0,
                max_points=30,
                passed=True,
                previous_score=10.0,
                previous_passed=False,
                step_score=30.0,
                step_passed=True,
                session_score=30.0,
                items=(
                    ItemResult("reuse", 5.0, 15, "on reuse"),
                    ItemResult("organisation", 5.0, 15, "on organisation"),
                ),
                comment="Right idea.",
                result_passed=True,
                xp_granted=100,
                xp_change=100,
            )
        ],
    )
    after = fold(events, state)
    assert after.result is not None
    assert (after.result.passed, after.result.score, after.result.xp_granted) == (True, 30.0, 100)
    assert after.score == 30.0 and after.steps_passed == 2
    assert after.transcript[-1].kind == "review"
    assert after.transcript[-1].text == "Right idea."


def test_a_downward_review_after_a_grant_takes_the_xp_back_as_an_adjustment():
    state = fold(_completed(("reuse", 15), ("organisation", 15)))
    assert state.result is not None and state.result.xp_granted == 100

    (event,) = when(
        CH, state, _review(passed=False, items=(ItemVerdict("organisation", 0),), comment="No.")
    )

    assert isinstance(event, GradeReviewed)
    assert (event.score, event.passed, event.step_passed) == (15.0, False, False)
    assert [item.points for item in event.items] == [15.0, 0.0]
    assert (event.session_score, event.result_passed) == (15.0, False)
    assert (event.xp_granted, event.xp_change) == (0, -100)
    after = fold([event], state)
    assert after.result is not None and after.result.xp_granted == 0
    assert after.steps_passed == 1


def test_an_upward_review_of_a_passing_session_resizes_its_grant():
    state = fold(_completed(("reuse", 15), ("organisation", 9)))
    assert state.result is not None and state.result.xp_granted == 80

    (event,) = when(CH, state, _review(passed=True, items=(ItemVerdict("organisation", 15),)))

    assert isinstance(event, GradeReviewed)
    assert (event.session_score, event.xp_granted, event.xp_change) == (30.0, 100, 20)


def test_a_new_pass_earns_no_xp_when_another_session_holds_the_grant():
    state = fold(_completed(("reuse", 5), ("organisation", 5)))

    (event,) = when(CH, state, _review(2, passed=True, xp_already_granted=True))

    assert isinstance(event, GradeReviewed)
    assert event.result_passed is True
    assert (event.xp_granted, event.xp_change) == (0, 0)


def test_reviewing_twice_is_a_conflict_unless_replacing():
    state = fold(_completed(("reuse", 15), ("organisation", 15)))
    state = fold(when(CH, state, _review(passed=False)), state)

    with pytest.raises(Conflict, match="already reviewed"):
        when(CH, state, _review(passed=True))
    (event,) = when(CH, state, _review(passed=True, replace=True))
    assert isinstance(event, GradeReviewed)
    assert (event.previous_passed, event.passed, event.xp_change) == (False, True, 100)


def _open(*points: tuple[str, float], ch=CH) -> list:
    """A session on its chat step, whose first attempt was graded ``points`` (a fail)."""
    return play(
        ch,
        CreateSession(at=AT, session_id=SESSION_ID, learner_id=LEARNER_ID),
        StartSession(at=AT),
        SubmitAnswer(at=AT, step_id="why", answer="Reuse."),
        evaluate(1, *points),
    )


def test_a_failed_attempt_reviewed_as_a_pass_closes_the_open_step_and_the_session_moves_on():
    history = _open(("reuse", 5), ("organisation", 0))
    state = fold(history)
    assert state.current is not None and state.current.attempts_left == 1

    events = when(CH, state, _review(passed=True, comment="That is the idea."))

    assert [type(e).__name__ for e in events] == ["GradeReviewed", "StepClosed", "StepEntered"]
    reviewed, closed, entered = events
    assert isinstance(reviewed, GradeReviewed) and isinstance(closed, StepClosed)
    assert (reviewed.score, reviewed.step_score, reviewed.step_passed) == (30.0, 30.0, True)
    assert (reviewed.session_score, reviewed.result_passed, reviewed.xp_change) == (0.0, None, 0)
    assert (closed.step_id, closed.score, closed.passed) == ("why", 30.0, True)
    assert isinstance(entered, StepEntered) and entered.step_id == "end"
    after = fold(events, state)
    assert after.current is not None and after.current.step_id == "end"
    assert (after.score, after.steps_closed, after.steps_passed) == (30.0, 1, 1)
    (record,) = after.closed_steps
    assert (record.score, record.passed, record.attempts) == (30.0, True, 1)
    assert record.grades[0].reviewed
    assert after.transcript[-1].kind == "review"
    # The learner then finishes with the reviewed score counted, and the XP it earns.
    finished = when(CH, after, ContinueGate(at=LATER, step_id="end"))
    done = fold(finished, after)
    assert done.result is not None
    assert (done.result.passed, done.result.score, done.result.xp_granted) == (True, 30.0, 100)


def test_a_pass_on_the_last_step_completes_the_session_with_its_xp():
    ch = challenge(gate("start"), chat("why", max_attempts=2), xp=100, passing_score=70)
    state = fold(
        play(
            ch,
            CreateSession(at=AT, session_id=SESSION_ID, learner_id=LEARNER_ID),
            StartSession(at=AT),
            ContinueGate(at=AT, step_id="start"),
            SubmitAnswer(at=AT, step_id="why", answer="Reuse."),
            evaluate(1, ("reuse", 0), ("organisation", 0)),
        )
    )

    events = when(ch, state, _review(passed=True))

    assert [type(e).__name__ for e in events] == [
        "GradeReviewed",
        "StepClosed",
        "SessionCompleted",
    ]
    done = fold(events, state)
    assert done.result is not None
    assert (done.result.passed, done.result.score, done.result.xp_granted) == (True, 30.0, 100)
    # Another session of the challenge holds the grant: the pass earns no XP a second time.
    again = when(ch, state, _review(passed=True, xp_already_granted=True))
    assert fold(again, state).result == Result(True, 30.0, 30, 0)


def test_a_review_that_still_fails_leaves_the_learner_their_remaining_attempts():
    state = fold(_open(("reuse", 10), ("organisation", 5)))

    (event,) = when(
        CH,
        state,
        _review(passed=False, items=(ItemVerdict("reuse", 0),), comment="Not about reuse."),
    )

    assert isinstance(event, GradeReviewed)
    assert (event.previous_score, event.score, event.step_score) == (15.0, 5.0, 5.0)
    assert (event.step_passed, event.session_score) == (False, 0.0)
    after = fold([event], state)
    assert after.current is not None and after.current.step_id == "why"
    assert (after.current.attempts_left, after.current.best_score) == (1, 5.0)
    assert after.current.grades[0].reviewed and after.steps_passed == 0
    # The learner's last attempt is graded as usual and the step's best counts.
    later = play(
        CH,
        SubmitAnswer(at=LATER, step_id="why", answer="Reuse."),
        evaluate(2, ("reuse", 5), ("organisation", 5)),
        state=after,
    )
    closed = next(e for e in later if isinstance(e, StepClosed))
    assert (closed.score, closed.passed) == (10.0, False)


def test_a_pass_while_a_newer_answer_is_being_graded_is_a_conflict():
    first = fold(_open(("reuse", 0), ("organisation", 0)))
    state = fold(
        play(CH, SubmitAnswer(at=LATER, step_id="why", answer="Again."), state=first), first
    )
    assert state.current is not None and state.current.pending_attempt == 2
    with pytest.raises(Conflict, match="being graded"):
        when(CH, state, _review(passed=True))
    # A review that keeps the fail waits for nothing.
    (event,) = when(CH, state, _review(passed=False, items=(ItemVerdict("reuse", 3),)))
    assert isinstance(event, GradeReviewed)


def test_replay_reproduces_a_review_that_closed_an_open_step():
    history = _open(("reuse", 5), ("organisation", 0))
    state = fold(history)
    review = when(CH, state, _review(passed=True))
    replayed = fold([*history, *review])
    assert replayed == fold(review, state)
    assert state_from_dict(state_to_dict(replayed)) == replayed


def test_unknown_items_and_attempts_are_refused_by_name():
    state = fold(_completed(("reuse", 15), ("organisation", 15)))
    with pytest.raises(InvalidInput, match="style"):
        when(CH, state, _review(passed=True, items=(ItemVerdict("style", 1),)))
    with pytest.raises(InvalidInput, match="attempt 3"):
        when(CH, state, _review(3, passed=True))


def test_choice_steps_are_not_reviewed():
    ch = challenge(mcq("pick"), gate("end"))
    state = fold(
        play(
            ch,
            CreateSession(at=AT, session_id=SESSION_ID, learner_id=LEARNER_ID),
            StartSession(at=AT),
            SubmitAnswer(at=AT, step_id="pick", answer=0),
        )
    )
    with pytest.raises(WrongAction):
        when(ch, state, ReviewGrade(at=REVIEWED_AT, step_id="pick", attempt=1, passed=False))


def test_replay_and_snapshots_reproduce_a_reviewed_session():
    history = _completed(("reuse", 15), ("organisation", 15))
    state = fold(history)
    review = when(CH, state, _review(passed=False, comment="Too vague."))
    replayed = fold([*history, *review])

    assert replayed == fold(review, state)
    assert state_from_dict(state_to_dict(replayed)) == replayed
    assert replayed.closed_steps[0].grades[0].reviewed
