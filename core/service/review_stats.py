"""Agreement between the grader and reviewers (issue 14), as pure functions over reviewed rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.service.grading_learning import agreement_trend
from core.store.reviews import ReviewItem

POINTS_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class ItemAgreement:
    """One rubric item: how often the grader gave the points the reviewer gave."""

    item_id: str
    reviewed: int
    agreement: float | None


@dataclass(frozen=True, slots=True)
class StepAgreement:
    """One step: reviews, pass/fail agreement and Cohen's kappa, per-item agreement, labels."""

    step_id: str
    reviewed: int
    agreement: float | None
    kappa: float | None
    labelled_answers: int
    items: tuple[ItemAgreement, ...]
    # agreement per 10 reviews in grading order: rising as the step learns (grading_learning.py)
    agreement_trend: tuple[float, ...] = ()


def cohens_kappa(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two raters' pass/fail labels; None when it is undefined (no pairs, or
    both raters gave one label only, so chance agreement is already 1)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    a_yes = sum(1 for a, _ in pairs if a) / n
    b_yes = sum(1 for _, b in pairs if b) / n
    chance = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    if chance >= 1:
        return None
    return round((observed - chance) / (1 - chance), 4)


def step_agreements(reviewed: Sequence[ReviewItem]) -> list[StepAgreement]:
    """Per step (in order of first review) and rubric item, how the grader agreed with reviewers."""
    by_step: dict[str, list[ReviewItem]] = {}
    for row in reviewed:
        if row.review is not None:
            by_step.setdefault(row.step_id, []).append(row)
    result = []
    for step_id, rows in by_step.items():
        pairs = [(bool(r.verdict["passed"]), bool(r.review["passed"])) for r in rows if r.review]
        result.append(
            StepAgreement(
                step_id=step_id,
                reviewed=len(rows),
                agreement=_share(sum(1 for a, b in pairs if a == b), len(pairs)),
                kappa=cohens_kappa(pairs),
                labelled_answers=len(rows),
                items=_item_agreements(rows),
                agreement_trend=agreement_trend(pairs),
            )
        )
    return result


def _item_agreements(rows: Sequence[ReviewItem]) -> tuple[ItemAgreement, ...]:
    counts: dict[str, list[int]] = {}
    for row in rows:
        graded = {item["id"]: float(item["points"]) for item in row.verdict.get("items", ())}
        review = row.review or {}
        for item in review.get("items", ()):
            if item["id"] not in graded:
                continue
            same = abs(graded[item["id"]] - float(item["points"])) < POINTS_TOLERANCE
            tally = counts.setdefault(item["id"], [0, 0])
            tally[0] += 1
            tally[1] += int(same)
    return tuple(
        ItemAgreement(item_id, total, _share(agreed, total))
        for item_id, (total, agreed) in counts.items()
    )


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)
