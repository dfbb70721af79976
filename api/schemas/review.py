"""Human review of chat grades (issue 14): the queue, a review, and agreement statistics."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.schemas.common import Out


class ReviewItemOut(Out):
    id: str
    points: float
    max_points: int
    feedback: str = ""


class VerdictOut(Out):
    passed: bool
    score: float
    max_score: int
    confidence: float | None
    grader: str
    items: list[ReviewItemOut]


class RubricItemOut(Out):
    id: str
    description: str
    points: int


class StepContextOut(Out):
    title: str
    prompt: str
    points: int
    pass_threshold: int
    rubric: list[RubricItemOut]
    reference_answer: str = ""


class QueuedGradeOut(Out):
    review_id: str
    session_id: str
    challenge_id: str
    step_id: str
    attempt: int
    answer: str
    reason: str = Field(description='"low_confidence", "provisional" or "sample"')
    verdict: VerdictOut
    created_at: str
    step: StepContextOut | None = Field(
        default=None, description="The step as graded: prompt, rubric and reference answer"
    )


class ReviewQueueOut(Out):
    items: list[QueuedGradeOut]


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: StrictBool
    items: dict[str, float] | None = Field(
        default=None,
        description="Points per rubric item id; items left out keep the grader's points.",
        max_length=50,
    )
    comment: str = Field(default="", max_length=2000)
    replace: StrictBool = False

    @field_validator("items")
    @classmethod
    def _finite(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and not all(math.isfinite(points) for points in value.values()):
            raise ValueError("points must be finite numbers")
        return value


class AppliedReviewItemOut(Out):
    id: str
    points: float
    max_points: int


class AppliedReviewOut(Out):
    review_id: str
    session_id: str
    step_id: str
    attempt: int
    passed: bool
    score: float
    max_score: int
    items: list[AppliedReviewItemOut]
    comment: str
    step_score: float
    step_passed: bool
    session_score: float
    result_passed: bool | None
    xp_granted: int | None


class ItemAgreementOut(Out):
    item_id: str
    reviewed: int
    agreement: float | None


class StepAgreementOut(Out):
    step_id: str
    reviewed: int
    agreement: float | None = Field(description="Share of reviews agreeing on pass/fail")
    kappa: float | None = Field(description="Cohen's kappa of pass/fail (None when undefined)")
    labelled_answers: int
    items: list[ItemAgreementOut]
    agreement_trend: list[float] = Field(
        default_factory=list,
        description="Pass/fail agreement per 10 reviews in grading order (the grader learning)",
    )


class ReviewStatsOut(Out):
    challenge_id: str
    steps: list[StepAgreementOut]
