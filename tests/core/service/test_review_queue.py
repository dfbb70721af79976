"""What enters the review queue, and the agreement figures (issue 14): pure functions."""

from __future__ import annotations

from dataclasses import replace

from core.engine.events import (
    AnswerGraded,
    AnswerSubmitted,
    Event,
    LlmTrace,
    SessionCreated,
    SessionStarted,
    StepEntered,
)
from core.engine.state import SessionState, evolve
from core.service.review_queue import in_sample, review_changes, review_id_for, review_reason
from core.service.review_stats import cohens_kappa, step_agreements
from core.store.reviews import ReviewItem


def graded(*, needs_review: bool = False, provisional: bool = False) -> AnswerGraded:
    return AnswerGraded(
        at="2024-05-01T10:00:00+00:00",
        step_id="why",
        attempt=1,
        score=10.0,
        max_points=20,
        available=20.0,
        passed=False,
        feedback="",
        grader="offline",
        trace=LlmTrace("anthropic", "m", provisional=provisional) if provisional else None,
        confidence=0.4,
        needs_review=needs_review,
    )


def test_the_sample_is_deterministic_and_close_to_its_rate():
    ids = [f"session-{n}" for n in range(4000)]
    drawn = [in_sample(i, "why", 1, 0.05) for i in ids]
    assert drawn == [in_sample(i, "why", 1, 0.05) for i in ids]
    assert 0.04 < sum(drawn) / len(ids) < 0.06
    assert not any(in_sample(i, "why", 1, 0.0) for i in ids[:100])
    assert all(in_sample(i, "why", 1, 1.0) for i in ids[:100])


def test_reasons_prefer_provisional_then_low_confidence_then_sample():
    assert review_reason("s", graded(provisional=True, needs_review=True), 0.0) == "provisional"
    assert review_reason("s", graded(needs_review=True), 0.0) == "low_confidence"
    assert review_reason("s", graded(), 1.0) == "sample"
    assert review_reason("s", graded(), 0.0) is None


def test_review_ids_are_stable_and_distinct_per_attempt():
    assert review_id_for("s", "why", 1) == review_id_for("s", "why", 1)
    assert review_id_for("s", "why", 1) != review_id_for("s", "why", 2)


def test_cohens_kappa_matches_a_worked_example():
    # 20 pairs: both pass 8, both fail 7, grader-only pass 3, reviewer-only pass 2.
    pairs = [(True, True)] * 8 + [(False, False)] * 7 + [(True, False)] * 3 + [(False, True)] * 2
    # observed 0.75; chance 0.55*0.5 + 0.45*0.5 = 0.5; kappa (0.75-0.5)/(1-0.5) = 0.5
    assert cohens_kappa(pairs) == 0.5
    assert cohens_kappa([]) is None
    assert cohens_kappa([(True, True)] * 3) is None


def _row(n: int, graded_pass: bool, reviewed_pass: bool, item_points: float) -> ReviewItem:
    return ReviewItem(
        review_id=f"r{n}",
        session_id=f"s{n}",
        learner_id="l",
        challenge_id="c",
        challenge_version=1,
        step_id="why",
        attempt=1,
        answer="a",
        reason="sample",
        verdict={"passed": graded_pass, "items": [{"id": "reuse", "points": 10.0}]},
        created_at=f"2024-05-01T10:00:0{n}+00:00",
        review={"passed": reviewed_pass, "items": [{"id": "reuse", "points": item_points}]},
    )


def test_step_agreement_per_step_and_item():
    rows = [_row(1, True, True, 10.0), _row(2, True, False, 0.0), _row(3, False, False, 10.0)]
    (step,) = step_agreements(rows)
    assert (step.step_id, step.reviewed, step.labelled_answers) == ("why", 3, 3)
    assert step.agreement == round(2 / 3, 4)
    (item,) = step.items
    assert (item.item_id, item.reviewed, item.agreement) == ("reuse", 3, round(2 / 3, 4))


def test_review_changes_agree_with_folding_before_every_grade() -> None:
    """``review_changes`` skips folding when no grade can be a chat step's; on every window of a
    session's events (any append, from any state) it must queue exactly what folding the state
    before each event would (one-event calls fold nothing: the reference)."""
    at = "2024-05-01T10:00:00+00:00"

    def entered(step_id: str, index: int, kind: str) -> StepEntered:
        return StepEntered(at, step_id, index, kind, 20, 3, 0)

    def answered(step_id: str, attempt: int) -> list[Event]:
        grade = replace(graded(needs_review=True), step_id=step_id, attempt=attempt)
        return [AnswerSubmitted(at, step_id, attempt, f"answer {attempt}", "shown"), grade]

    events: list[Event] = [
        SessionCreated(at, "s1", "ada", "c", 1, "C", 3, 60, 30, 10),
        SessionStarted(at),
        entered("pick", 0, "mcq"),
        *answered("pick", 1),
        *answered("pick", 2),
        entered("why", 1, "chat"),
        *answered("why", 1),
        *answered("why", 2),
        entered("last", 2, "mcq"),
        *answered("last", 1),
    ]
    states = [SessionState()]
    for event in events:
        states.append(evolve(states[-1], event))
    queued = 0
    for start in range(len(events)):
        for end in range(start + 1, len(events) + 1):
            window = events[start:end]
            actors = ["a"] * len(window)
            expected: list[ReviewItem] = []
            for offset, event in enumerate(window):
                items, _ = review_changes(states[start + offset], [event], ["a"], 0.0)
                expected += items
            assert review_changes(states[start], window, actors, 0.0) == (tuple(expected), ())
            queued += len(expected)
    assert queued > 0  # the chat step's grades were queued in some windows
