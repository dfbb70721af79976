"""What enters the review queue (issue 14), as pure functions over events.

A chat grade enters when its grader marked it ``needs_review`` (low confidence), when it is
provisional (the provider failed and a fallback graded it), or as a sample of the rest at
``REVIEW_SAMPLE_RATE``. The sample is drawn from a hash of the session, step and attempt, so the
same log always gives the same queue: the append path and a rebuild from events agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from core.engine.events import (
    AnswerGraded,
    Event,
    GradeReviewed,
    ItemResult,
    SessionCreated,
    StepEntered,
)
from core.engine.state import SessionState, evolve
from core.store.base import XpGrant
from core.store.reviews import ReviewItem, ReviewOutcome, XpAdjustment

LOW_CONFIDENCE = "low_confidence"
PROVISIONAL = "provisional"
SAMPLE = "sample"
CHAT_KIND = "chat"
_GRADES = (AnswerGraded, GradeReviewed)


def review_id_for(session_id: str, step_id: str, attempt: int) -> str:
    """The stable id of the review of one graded attempt."""
    key = f"{session_id}\x1f{step_id}\x1f{attempt}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def in_sample(session_id: str, step_id: str, attempt: int, rate: float) -> bool:
    """Whether this attempt falls in the ``rate`` sample: a uniform draw from a hash, not a clock."""
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"sample\x1f{session_id}\x1f{step_id}\x1f{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def review_reason(session_id: str, graded: AnswerGraded, sample_rate: float) -> str | None:
    """Why a chat grade goes to review, or None when it does not."""
    if graded.trace is not None and graded.trace.provisional:
        return PROVISIONAL
    if graded.needs_review:
        return LOW_CONFIDENCE
    if in_sample(session_id, graded.step_id, graded.attempt, sample_rate):
        return SAMPLE
    return None


def verdict_of(graded: AnswerGraded) -> dict[str, Any]:
    """The grader's verdict as reviewers see it."""
    return {
        "passed": graded.passed,
        "score": graded.score,
        "max_score": graded.max_points,
        "confidence": graded.confidence,
        "grader": graded.grader,
        "items": _items(graded.items),
    }


def _items(items: Iterable[ItemResult]) -> list[dict[str, Any]]:
    return [
        {"id": i.id, "points": i.points, "max_points": i.max_points, "feedback": i.feedback}
        for i in items
    ]


def review_outcome(reviewed: GradeReviewed) -> dict[str, Any]:
    """A review as stored on its queue row."""
    return {
        "passed": reviewed.passed,
        "score": reviewed.score,
        "max_score": reviewed.max_points,
        "items": _items(reviewed.items),
        "comment": reviewed.comment,
    }


def review_changes(
    before: SessionState, events: Sequence[Event], actors: Sequence[str], sample_rate: float
) -> tuple[tuple[ReviewItem, ...], tuple[ReviewOutcome, ...]]:
    """The queue rows ``events`` (recorded by ``actors``) add and resolve, given the state before."""
    if len(events) != len(actors):
        raise ValueError("review_changes needs one actor per event")
    # Only the state before a grade or a review matters: fold no further than the last of them
    # (on most appends there is none, and nothing is folded at all).
    last = len(events) - 1
    while last >= 0 and not isinstance(events[last], _GRADES):
        last -= 1
    if last < 0:  # most appends: nothing to queue or resolve
        return (), ()
    # Nor even then, unless a grade can be a chat step's: a step's kind only comes with
    # StepEntered, and the session's ids with SessionCreated, so when neither precedes the last
    # grade and the current step is not a chat step, ``before`` answers every question below as the
    # folded state would (an answer to a choice step no longer folds its AnswerSubmitted here).
    fold_until = last
    if not any(isinstance(e, StepEntered | SessionCreated) for e in events[:last]) and (
        before.current is None or before.current.kind != CHAT_KIND
    ):
        fold_until = 0
    items: list[ReviewItem] = []
    outcomes: list[ReviewOutcome] = []
    state = before
    for index, (event, actor) in enumerate(zip(events[: last + 1], actors, strict=False)):
        if isinstance(event, AnswerGraded):
            current = state.current
            if current is not None and current.kind == CHAT_KIND:
                reason = review_reason(state.session_id, event, sample_rate)
                if reason is not None:
                    items.append(
                        ReviewItem(
                            review_id=review_id_for(state.session_id, event.step_id, event.attempt),
                            session_id=state.session_id,
                            learner_id=state.learner_id,
                            challenge_id=state.challenge_id,
                            challenge_version=state.challenge_version,
                            step_id=event.step_id,
                            attempt=event.attempt,
                            answer=str(current.pending_answer),
                            reason=reason,
                            verdict=verdict_of(event),
                            created_at=event.at,
                        )
                    )
        elif isinstance(event, GradeReviewed):
            outcomes.append(
                ReviewOutcome(
                    review_id=review_id_for(state.session_id, event.step_id, event.attempt),
                    reviewer_id=actor,
                    reviewed_at=event.at,
                    review=review_outcome(event),
                )
            )
        if index < fold_until:
            state = evolve(state, event)
    return tuple(items), tuple(outcomes)


def xp_changes(
    after: SessionState, events: Sequence[Event]
) -> tuple[XpGrant | None, XpAdjustment | None]:
    """A review's effect on the XP ledger: a new grant (a first pass, claimed like any grant) or
    an adjustment of the grant this session holds (never a silent edit)."""
    grant = adjustment = None
    for event in events:
        if not isinstance(event, GradeReviewed) or event.xp_change == 0:
            continue
        if event.xp_granted == event.xp_change:
            grant = XpGrant(
                after.learner_id, after.challenge_id, after.session_id, event.xp_granted, event.at
            )
        else:
            adjustment = XpAdjustment(
                after.learner_id,
                after.challenge_id,
                after.session_id,
                event.xp_change,
                event.xp_granted,
                "review",
                event.at,
            )
    return grant, adjustment


def rebuild_review_queue(
    streams: Iterable[Sequence[tuple[Event, str]]], sample_rate: float
) -> dict[str, ReviewItem]:
    """The review queue rebuilt from the log: each stream's events with their actors, folded from
    the start. Given the same ``REVIEW_SAMPLE_RATE`` it equals what the append path wrote."""
    rows: dict[str, ReviewItem] = {}
    for stream in streams:
        state = SessionState()
        for event, actor in stream:
            queued, reviewed = review_changes(state, [event], [actor], sample_rate)
            for item in queued:
                rows.setdefault(item.review_id, item)
            for outcome in reviewed:
                queued_row = rows.get(outcome.review_id)
                if queued_row is not None:
                    rows[outcome.review_id] = outcome.resolve(queued_row)
            state = evolve(state, event)
    return rows
