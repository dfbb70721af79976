"""Session lifecycle: created → active → completed (or abandoned), and only the current step answers."""

from __future__ import annotations

import pytest

from core.engine.commands import (
    AbandonSession,
    ContinueGate,
    CreateSession,
    RecordEvaluation,
    RequestHint,
    StartSession,
    SubmitAnswer,
)
from core.engine.events import (
    AnswerGraded,
    AnswerSubmitted,
    SessionAbandoned,
    SessionCompleted,
    SessionStarted,
    StepClosed,
)
from core.engine.state import Status, fold
from core.errors import Conflict, SessionNotActive, StepNotCurrent, WrongAction
from tests.core.engine.builders import (
    AT,
    LATER,
    LEARNER_ID,
    SESSION_ID,
    challenge,
    chat,
    created,
    entered,
    gate,
    given,
    mcq,
    on_step,
    started,
    then,
    true_false,
    verdict,
    when,
)

CH = challenge(gate("welcome"), mcq("what-is", points=20), true_false("must-return", points=20))


def completed_events():
    return [
        *on_step(CH, 2),
        SessionCompleted(at=AT, score=40.0, max_score=40, passed=True, xp_granted=100),
    ]


# --- created -------------------------------------------------------------------------------------


def test_create_session_records_the_challenge_it_was_made_from():
    events = when(CH, given([]), CreateSession(at=AT, session_id=SESSION_ID, learner_id=LEARNER_ID))

    then(events, [created(CH)])
    state = given(events)
    assert state.status is Status.CREATED
    assert state.challenge_version == 3
    assert state.total_steps == 3
    assert state.max_score == 40


def test_a_session_cannot_be_created_twice():
    with pytest.raises(Conflict):
        when(CH, given([created(CH)]), CreateSession(at=AT, session_id="x", learner_id="y"))


# --- started -------------------------------------------------------------------------------------


def test_start_activates_the_session_and_enters_the_first_step():
    events = when(CH, given([created(CH)]), StartSession(at=LATER))

    then(events, [SessionStarted(at=LATER), entered(CH, 0, at=LATER)])
    state = given([created(CH), *events])
    assert state.status is Status.ACTIVE
    assert state.started_at == LATER
    assert state.current is not None
    assert state.current.step_id == "welcome"


def test_a_session_starts_only_once():
    with pytest.raises(SessionNotActive):
        when(CH, given([created(CH), started(), entered(CH, 0)]), StartSession(at=LATER))


def test_a_session_that_was_never_created_cannot_start():
    with pytest.raises(SessionNotActive):
        when(CH, given([]), StartSession(at=LATER))


def test_an_abandoned_session_cannot_start():
    with pytest.raises(SessionNotActive):
        when(CH, given([created(CH), SessionAbandoned(at=AT)]), StartSession(at=LATER))


# --- only an active session takes answers --------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        SubmitAnswer(at=LATER, step_id="what-is", answer=0),
        ContinueGate(at=LATER, step_id="welcome"),
        RequestHint(at=LATER, step_id="what-is"),
    ],
    ids=["answer", "continue", "hint"],
)
def test_a_created_session_takes_no_answers(command):
    with pytest.raises(SessionNotActive):
        when(CH, given([created(CH)]), command)


@pytest.mark.parametrize(
    "command",
    [
        SubmitAnswer(at=LATER, step_id="must-return", answer=False),
        ContinueGate(at=LATER, step_id="welcome"),
        RequestHint(at=LATER, step_id="must-return"),
    ],
    ids=["answer", "continue", "hint"],
)
def test_a_completed_session_takes_no_answers(command):
    with pytest.raises(SessionNotActive):
        when(CH, given(completed_events()), command)


@pytest.mark.parametrize(
    "command",
    [
        SubmitAnswer(at=LATER, step_id="what-is", answer=0),
        ContinueGate(at=LATER, step_id="welcome"),
        RequestHint(at=LATER, step_id="what-is"),
    ],
    ids=["answer", "continue", "hint"],
)
def test_an_abandoned_session_takes_no_answers(command):
    state = given([*on_step(CH, 1), SessionAbandoned(at=AT)])

    with pytest.raises(SessionNotActive):
        when(CH, state, command)


def test_an_abandoned_chat_session_takes_no_late_evaluation():
    ch = challenge(chat("why"))
    history = [
        created(ch),
        started(),
        entered(ch, 0),
        AnswerSubmitted(at=AT, step_id="why", attempt=1, answer="reuse", display="reuse"),
        SessionAbandoned(at=AT),
    ]

    with pytest.raises(SessionNotActive):
        when(
            ch,
            given(history),
            RecordEvaluation(at=LATER, step_id="why", attempt=1, verdict=verdict(("reuse", 15))),
        )


# --- abandoned -----------------------------------------------------------------------------------


def test_an_active_session_can_be_abandoned():
    state = given(on_step(CH, 1))

    events = when(CH, state, AbandonSession(at=LATER))

    then(events, [SessionAbandoned(at=LATER)])
    after = given([*on_step(CH, 1), *events])
    assert after.status is Status.ABANDONED
    assert after.finished_at == LATER


def test_a_created_session_can_be_abandoned():
    then(when(CH, given([created(CH)]), AbandonSession(at=LATER)), [SessionAbandoned(at=LATER)])


def test_a_completed_session_cannot_be_abandoned():
    with pytest.raises(SessionNotActive):
        when(CH, given(completed_events()), AbandonSession(at=LATER))


def test_a_session_cannot_be_abandoned_twice():
    with pytest.raises(SessionNotActive):
        when(CH, given([created(CH), SessionAbandoned(at=AT)]), AbandonSession(at=LATER))


# --- only the current step takes answers ---------------------------------------------------------


def test_answer_for_a_later_step_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given(on_step(CH, 1)), SubmitAnswer(at=LATER, step_id="must-return", answer=False))


def test_answer_for_old_step_is_rejected():
    # The learner double-clicks: the first click closed "what-is"; the second still names it.
    state = given(on_step(CH, 2))

    with pytest.raises(StepNotCurrent):
        when(CH, state, SubmitAnswer(at=LATER, step_id="what-is", answer=0))


def test_answer_for_old_step_is_never_applied_to_the_next_step():
    # 0 is the right index for "what-is" but is not a boolean; even a well-shaped answer for the
    # true/false step must not be taken when it names the old step.
    state = given(on_step(CH, 2))

    for answer in (0, False, True):
        with pytest.raises(StepNotCurrent):
            when(CH, state, SubmitAnswer(at=LATER, step_id="what-is", answer=answer))
    assert state.current is not None
    assert state.current.attempts == 0


def test_answer_for_an_unknown_step_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given(on_step(CH, 1)), SubmitAnswer(at=LATER, step_id="nope", answer=0))


def test_continue_for_an_old_gate_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given(on_step(CH, 1)), ContinueGate(at=LATER, step_id="welcome"))


def test_hint_for_another_step_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(CH, given(on_step(CH, 1)), RequestHint(at=LATER, step_id="must-return"))


# --- gates ---------------------------------------------------------------------------------------


def test_continuing_a_gate_closes_it_with_no_points_and_enters_the_next_step():
    events = when(CH, given(on_step(CH, 0)), ContinueGate(at=LATER, step_id="welcome"))

    then(
        events,
        [
            StepClosed(at=LATER, step_id="welcome", index=0, score=0.0, passed=True),
            entered(CH, 1, at=LATER),
        ],
    )


def test_answering_a_gate_is_the_wrong_action():
    with pytest.raises(WrongAction):
        when(CH, given(on_step(CH, 0)), SubmitAnswer(at=LATER, step_id="welcome", answer=0))


@pytest.mark.parametrize("index", [1, 2])
def test_continuing_a_step_that_is_not_a_gate_is_the_wrong_action(index):
    step_id = CH.steps[index].id

    with pytest.raises(WrongAction):
        when(CH, given(on_step(CH, index)), ContinueGate(at=LATER, step_id=step_id))


def test_continuing_a_final_gate_completes_the_session():
    ch = challenge(mcq("q", points=10), gate("bye"))

    events = when(ch, given(on_step(ch, 1)), ContinueGate(at=LATER, step_id="bye"))

    then(
        events,
        [
            StepClosed(at=LATER, step_id="bye", index=1, score=0.0, passed=True),
            SessionCompleted(at=LATER, score=10.0, max_score=10, passed=True, xp_granted=100),
        ],
    )


def test_a_session_of_only_gates_completes_as_passed():
    ch = challenge(gate("a"), gate("b"), xp=50)
    state = given(on_step(ch, 1))

    events = when(ch, state, ContinueGate(at=LATER, step_id="b"))

    assert events[-1] == SessionCompleted(
        at=LATER, score=0.0, max_score=0, passed=True, xp_granted=50
    )


def test_a_full_session_moves_from_created_to_completed():
    state = given([])
    statuses = [state.status]
    for command in (
        CreateSession(at=AT, session_id=SESSION_ID, learner_id=LEARNER_ID),
        StartSession(at=AT),
        ContinueGate(at=AT, step_id="welcome"),
        SubmitAnswer(at=AT, step_id="what-is", answer=0),
        SubmitAnswer(at=AT, step_id="must-return", answer=False),
    ):
        state = fold(when(CH, state, command), state)
        statuses.append(state.status)

    assert statuses == [
        Status.NEW,
        Status.CREATED,
        Status.ACTIVE,
        Status.ACTIVE,
        Status.ACTIVE,
        Status.COMPLETED,
    ]
    assert state.result is not None
    assert state.result.score == 40.0
    assert state.current is None
    assert state.step_index == 3


def test_graded_answer_is_recorded_against_the_step_it_named():
    events = when(CH, given(on_step(CH, 1)), SubmitAnswer(at=LATER, step_id="what-is", answer=0))

    assert {e.step_id for e in events if isinstance(e, AnswerSubmitted | AnswerGraded)} == {
        "what-is"
    }
