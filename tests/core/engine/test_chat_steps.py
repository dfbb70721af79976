"""chat steps: free text in, a pending attempt, then a grader verdict the engine clamps."""

from __future__ import annotations

import math

import pytest

from core.engine.commands import ItemVerdict, RecordEvaluation, SubmitAnswer, Verdict
from core.engine.decide import MAX_CHAT_ANSWER
from core.engine.events import AnswerGraded, AnswerSubmitted, ItemResult, LlmTrace, StepClosed
from core.engine.state import fold
from core.errors import AnswerConflict, AnswerTooLong, InvalidAnswer, StepNotCurrent
from tests.core.engine.builders import (
    LATER,
    challenge,
    chat,
    entered,
    evaluate,
    gate,
    given,
    on_step,
    pending_chat,
    then,
    verdict,
    when,
)

CH = challenge(chat("why", explanation="Reuse and organisation."), gate("end"))


def pending(attempt: int = 1, *, previous: tuple[float, ...] = ()):
    return pending_chat(CH, attempt, previous=previous)


def graded_items(*points: float) -> tuple[ItemResult, ...]:
    ids = ("reuse", "organisation")
    return tuple(ItemResult(i, p, 15, f"on {i}") for i, p in zip(ids, points, strict=True))


# --- submitting ----------------------------------------------------------------------------------


def test_chat_submit_only_records_the_answer_as_pending():
    state = given(on_step(CH, 0))

    events = when(CH, state, SubmitAnswer(at=LATER, step_id="why", answer="  To reuse code.\n"))

    then(
        events,
        [
            AnswerSubmitted(
                at=LATER,
                step_id="why",
                attempt=1,
                answer="To reuse code.",
                display="To reuse code.",
            )
        ],
    )
    after = fold(events, state)
    assert after.current is not None
    assert after.current.pending_attempt == 1
    assert after.current.attempts == 0


def test_a_second_answer_while_one_is_being_graded_conflicts():
    with pytest.raises(AnswerConflict):
        when(CH, pending(1), SubmitAnswer(at=LATER, step_id="why", answer="Another try."))


@pytest.mark.parametrize("answer", ["", "   ", "\n\t "], ids=repr)
def test_an_empty_chat_answer_is_invalid(answer):
    with pytest.raises(InvalidAnswer):
        when(CH, given(on_step(CH, 0)), SubmitAnswer(at=LATER, step_id="why", answer=answer))


def test_a_chat_answer_over_five_thousand_characters_is_too_long():
    with pytest.raises(AnswerTooLong):
        when(
            CH,
            given(on_step(CH, 0)),
            SubmitAnswer(at=LATER, step_id="why", answer="a" * (MAX_CHAT_ANSWER + 1)),
        )
    assert MAX_CHAT_ANSWER == 5000


@pytest.mark.parametrize("length", [1, 5000])
def test_a_chat_answer_of_one_to_five_thousand_characters_is_taken(length):
    events = when(
        CH, given(on_step(CH, 0)), SubmitAnswer(at=LATER, step_id="why", answer="a" * length)
    )

    assert len(events) == 1
    assert events[0].answer == "a" * length


@pytest.mark.parametrize("answer", [0, True, (0, 1), None], ids=repr)
def test_a_chat_step_takes_text_only(answer):
    with pytest.raises(InvalidAnswer):
        when(CH, given(on_step(CH, 0)), SubmitAnswer(at=LATER, step_id="why", answer=answer))


# --- recording the evaluation --------------------------------------------------------------------


def test_a_passing_evaluation_is_graded_and_closes_the_step():
    events = when(CH, pending(1), evaluate(1, ("reuse", 15), ("organisation", 10)))

    then(
        events,
        [
            AnswerGraded(
                at=LATER,
                step_id="why",
                attempt=1,
                score=25.0,
                max_points=30,
                available=30.0,
                passed=True,
                feedback="Good effort.",
                grader="fake-grader",
                items=graded_items(15.0, 10.0),
                rationale="because",
            ),
            StepClosed(
                at=LATER,
                step_id="why",
                index=0,
                score=25.0,
                passed=True,
                explanation="Reuse and organisation.",
            ),
            entered(CH, 1, at=LATER),
        ],
    )


def test_evaluation_item_points_are_clamped_to_the_item_range():
    events = when(CH, pending(1), evaluate(1, ("reuse", 99), ("organisation", -5)))

    assert events[0].items == graded_items(15.0, 0.0)
    assert events[0].score == 15.0
    assert events[0].passed is False


def test_evaluation_ignores_unknown_rubric_ids_and_missing_items_earn_nothing():
    events = when(CH, pending(1), evaluate(1, ("reuse", 12), ("made-up", 30)))

    assert events[0].items == (
        ItemResult("reuse", 12.0, 15, "on reuse"),
        ItemResult("organisation", 0.0, 15, ""),
    )
    assert events[0].score == 12.0


@pytest.mark.parametrize("claim", [math.nan, math.inf, -math.inf], ids=repr)
def test_a_non_finite_item_claim_earns_nothing_and_spoils_no_other_item(claim):
    # A grader claiming nan or infinity is not a score; the other items still count.
    events = when(CH, pending(1), evaluate(1, ("reuse", claim), ("organisation", 15)))

    assert events[0].items == graded_items(0.0, 15.0)
    assert events[0].score == 15.0


def test_the_verdict_flags_and_trace_are_stored_in_the_event():
    trace = LlmTrace(
        provider="offline",
        model="rubric-v1",
        prompt_hash="abc",
        tokens_in=10,
        tokens_out=5,
        cost_usd=0.001,
        latency_ms=12,
        provisional=True,
    )
    command = RecordEvaluation(
        at=LATER,
        step_id="why",
        attempt=1,
        verdict=Verdict(
            items=(ItemVerdict("reuse", 15), ItemVerdict("organisation", 15)),
            feedback="Great.",
            rationale="Mentions both.",
            grader="offline",
            trace=trace,
            flags=("injection_attempt",),
        ),
    )
    state = pending(1)

    events = when(CH, state, command)

    assert events[0].trace == trace
    assert events[0].flags == ("injection_attempt",)
    assert events[0].rationale == "Mentions both."
    feedback = fold(events, state).transcript[-2]
    assert feedback.kind == "feedback"
    assert feedback.provisional is True
    assert feedback.flags == ("injection_attempt",)


def test_evaluation_for_an_attempt_that_is_not_pending_conflicts():
    with pytest.raises(AnswerConflict):
        when(CH, pending(1), evaluate(2, ("reuse", 15)))


def test_evaluation_without_a_pending_answer_conflicts():
    with pytest.raises(AnswerConflict):
        when(CH, given(on_step(CH, 0)), evaluate(1, ("reuse", 15)))


def test_an_evaluation_is_recorded_once():
    state = pending(1)
    state = fold(when(CH, state, evaluate(1, ("reuse", 5))), state)

    with pytest.raises(AnswerConflict):
        when(CH, state, evaluate(1, ("reuse", 15), ("organisation", 15)))


def test_evaluation_for_another_step_is_rejected():
    with pytest.raises(StepNotCurrent):
        when(
            CH,
            pending(1),
            RecordEvaluation(at=LATER, step_id="end", attempt=1, verdict=verdict(("reuse", 15))),
        )


# --- thresholds and attempts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reuse", "organisation", "passed"),
    [(15, 3, True), (9, 9, True), (15, 2.99, False), (10, 7, False), (0, 0, False)],
)
def test_a_chat_step_passes_at_sixty_percent_by_default(reuse, organisation, passed):
    events = when(CH, pending(1), evaluate(1, ("reuse", reuse), ("organisation", organisation)))

    assert events[0].passed is passed


def test_a_chat_step_with_an_authored_threshold_uses_it():
    ch = challenge(chat("why", pass_threshold=100), gate("end"))
    state = given(
        [
            *on_step(ch, 0),
            AnswerSubmitted(at=LATER, step_id="why", attempt=1, answer="x", display="x"),
        ]
    )

    events = when(ch, state, evaluate(1, ("reuse", 15), ("organisation", 14)))

    assert events[0].passed is False
    assert len(events) == 1


def test_a_chat_step_allows_three_attempts_by_default():
    events = when(CH, pending(3, previous=(5.0, 3.0)), evaluate(3, ("reuse", 1)))

    assert events[1:] == [
        StepClosed(
            at=LATER,
            step_id="why",
            index=0,
            score=5.0,
            passed=False,
            explanation="Reuse and organisation.",
        ),
        entered(CH, 1, at=LATER),
    ]


def test_a_failed_second_chat_attempt_leaves_the_step_open():
    state = pending(2, previous=(5.0,))

    events = when(CH, state, evaluate(2, ("reuse", 1)))

    assert [type(e) for e in events] == [AnswerGraded]
    after = fold(events, state)
    assert after.current is not None
    assert after.current.attempts_left == 1
    assert after.current.best_score == 5.0
    assert after.current.pending_attempt is None


def test_a_retry_after_a_failed_chat_attempt_is_the_next_attempt():
    state = fold(when(CH, pending(1), evaluate(1, ("reuse", 1))), pending(1))

    events = when(CH, state, SubmitAnswer(at=LATER, step_id="why", answer="Reuse, organise."))

    assert events == [
        AnswerSubmitted(
            at=LATER,
            step_id="why",
            attempt=2,
            answer="Reuse, organise.",
            display="Reuse, organise.",
        )
    ]


def test_the_graders_confidence_and_review_mark_are_stored_in_the_event():
    command = RecordEvaluation(
        at=LATER,
        step_id="why",
        attempt=1,
        verdict=Verdict(
            items=(ItemVerdict("reuse", 15), ItemVerdict("organisation", 15)),
            feedback="Great.",
            rationale="Close call.",
            grader="offline",
            confidence=1.7,  # a grader's number is clamped, like its points
            needs_review=True,
        ),
    )
    [graded, *_] = when(CH, pending(1), command)
    assert (graded.confidence, graded.needs_review) == (1.0, True)


def test_an_answer_graded_event_from_before_confidence_replays_with_defaults():
    from core.engine.events import decode, encode

    old = encode(
        AnswerGraded(
            at=LATER, step_id="why", attempt=1, score=30, max_points=30, available=30,
            passed=True, feedback="ok", grader="offline",
        )
    )  # fmt: skip
    del old["confidence"], old["needs_review"]
    event = decode("AnswerGraded", AnswerGraded.SCHEMA_VERSION, old)
    assert isinstance(event, AnswerGraded)
    assert (event.confidence, event.needs_review) == (None, False)
