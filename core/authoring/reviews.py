"""How the grader agrees with reviewers, per step, for the author notebook (issue 14)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from core.authoring.render import html_table
from core.service.review_stats import StepAgreement, step_agreements
from core.store.factory import open_store


@dataclass(frozen=True, slots=True, repr=False)
class ReviewAgreement:
    """Per reviewed step of a challenge: reviews, pass/fail agreement, kappa, per-item agreement
    and labelled answers; ``database`` is None when the notebook was given no database."""

    challenge_id: str
    database: str | None
    steps: tuple[StepAgreement, ...]

    def __repr__(self) -> str:
        if self.database is None:
            return f"<{self.challenge_id}: no database given, reviews not read>"
        return f"<{self.challenge_id}: {sum(s.reviewed for s in self.steps)} reviews>"

    def _repr_html_(self) -> str:
        if self.database is None:
            return (
                "<p>No database given: set the <code>database_url</code> parameter to see how "
                "the grader agrees with reviewers.</p>"
            )
        if not self.steps:
            return f"<p>No reviewed answers of {escape(self.challenge_id)} yet.</p>"
        rows = [
            [
                s.step_id,
                str(s.reviewed),
                _share(s.agreement),
                "–" if s.kappa is None else f"{s.kappa:+.2f}",
                ", ".join(f"{i.item_id} {_share(i.agreement)} ({i.reviewed})" for i in s.items)
                or "–",
                str(s.labelled_answers),
            ]
            for s in self.steps
        ]
        return html_table(
            [
                "step",
                "reviewed",
                "pass/fail agreement",
                "Cohen's κ",
                "per rubric item",
                "labelled answers",
            ],
            rows,
        )


async def review_agreement(challenge_id: str, database_url: str | None) -> ReviewAgreement:
    """Read the reviewed answers of ``challenge_id`` from ``database_url`` (never migrating it)
    and return the agreement per step; with no database, an empty report that says so."""
    if not database_url:
        return ReviewAgreement(challenge_id, None, ())
    store = await open_store(database_url, auto_migrate=False)
    try:
        reviewed = await store.reviewed_items(challenge_id)
    finally:
        await store.close()
    return ReviewAgreement(challenge_id, database_url, tuple(step_agreements(reviewed)))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"
