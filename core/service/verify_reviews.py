"""Rebuilding the review read models from the events and comparing them with what is stored: the
review queue (``review_queue``) and the XP adjustments (``xp_adjustments``). Part of ``db verify``.

Which grades a sample sends to review depends on ``REVIEW_SAMPLE_RATE`` at the time, which the log
does not record; so the check rebuilds a row for every chat grade, requires the rows the log alone
decides (low confidence, provisional, reviewed) and accepts a stored sample row when its grade is
in the log as stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from core.engine.events import Event, GradeReviewed, decode
from core.engine.state import SessionState, evolve
from core.service.actor import EVENT_ACTOR_KEY
from core.service.review_queue import SAMPLE, rebuild_review_queue, xp_changes
from core.store.base import StoredEvent
from core.store.reviews import ReviewItem, ReviewStore, XpAdjustment

EVERY_GRADE = 1.0  # rebuild a queue row for every chat grade; see the module's docstring


@dataclass(slots=True)
class ReviewModelCheck:
    """Folds each session's events into the review rows and XP adjustments they should leave."""

    rows: dict[str, ReviewItem] = field(default_factory=dict)
    adjustments: list[XpAdjustment] = field(default_factory=list)

    def add(self, stored: Sequence[StoredEvent]) -> None:
        """Record what one readable session contributes."""
        stream: list[tuple[Event, str]] = [
            (decode(e.type, e.schema_version, e.data), str(e.data.get(EVENT_ACTOR_KEY, "")))
            for e in stored
        ]
        self.rows.update(rebuild_review_queue([stream], EVERY_GRADE))
        state = SessionState()
        for event, _actor in stream:
            state = evolve(state, event)
            if isinstance(event, GradeReviewed):
                _grant, adjustment = xp_changes(state, [event])
                if adjustment is not None:
                    self.adjustments.append(adjustment)

    async def compare(self, store: ReviewStore) -> list[tuple[str, str]]:
        """Return ``(where, problem)`` for every stored row that differs from the rebuilt ones."""
        problems: list[tuple[str, str]] = []
        stored = {row.review_id: row for row in await store.all_review_items()}
        for review_id, row in sorted(stored.items()):
            where = f"review_queue {review_id} (session {row.session_id})"
            rebuilt = self.rows.get(review_id)
            if rebuilt is None:
                problems.append((where, "a queued grade that no AnswerGraded event made"))
                continue
            changed = [
                name for name, value in asdict(rebuilt).items() if value != getattr(row, name)
            ]
            if changed:
                problems.append((where, f"differs from the events in {', '.join(changed)}"))
        for review_id, rebuilt in sorted(self.rows.items()):
            if review_id in stored or (rebuilt.reason == SAMPLE and rebuilt.review is None):
                continue
            why = "was reviewed" if rebuilt.review is not None else f"is {rebuilt.reason}"
            problems.append(
                (
                    f"review_queue {review_id} (session {rebuilt.session_id})",
                    f"missing: attempt {rebuilt.attempt} of {rebuilt.step_id!r} {why}",
                )
            )
        expected = Counter(self.adjustments)
        actual = Counter(await store.all_xp_adjustments())
        for adjustment in sorted(actual - expected, key=_order):
            problems.append(
                (
                    f"xp_adjustments {adjustment.learner_id}/{adjustment.challenge_id}",
                    f"{adjustment.xp_change:+d} XP at {adjustment.adjusted_at} that no "
                    "GradeReviewed event made",
                )
            )
        for adjustment in sorted(expected - actual, key=_order):
            problems.append(
                (
                    f"xp_adjustments {adjustment.learner_id}/{adjustment.challenge_id}",
                    f"missing: the review of session {adjustment.session_id} at "
                    f"{adjustment.adjusted_at} changed its XP by {adjustment.xp_change:+d}",
                )
            )
        return problems


def _order(adjustment: XpAdjustment) -> tuple[str, str, str]:
    return (adjustment.learner_id, adjustment.challenge_id, adjustment.adjusted_at)
