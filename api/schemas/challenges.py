"""The public catalogue: never answers, rubrics, reference answers or examples."""

from __future__ import annotations

from api.rendering import markdown_html
from api.schemas.common import Out
from core.engine.challenge import ChallengeSpec
from core.service.catalog import ChallengeSummary, summarize


class ChallengeOut(Out):
    id: str
    version: int
    title: str
    summary: str
    summary_html: str
    difficulty: str
    tags: list[str]
    estimated_minutes: int
    xp: int
    passing_score: int
    step_count: int
    max_score: int
    step_kinds: list[str]


class StepOutlineOut(Out):
    index: int
    id: str
    kind: str
    title: str
    points: int


class ChallengeDetailOut(ChallengeOut):
    steps: list[StepOutlineOut]


def challenge_out(summary: ChallengeSummary) -> ChallengeOut:
    return ChallengeOut.model_validate(
        {**_fields(summary), "summary_html": markdown_html(summary.summary)}
    )


def challenge_detail(spec: ChallengeSpec) -> ChallengeDetailOut:
    """The catalogue entry plus an outline of the steps: kinds, titles and points only."""
    summary = summarize(spec)
    steps = [
        StepOutlineOut(
            index=i, id=step.id, kind=step.kind.value, title=step.title, points=step.points
        )
        for i, step in enumerate(spec.steps)
    ]
    return ChallengeDetailOut.model_validate(
        {**_fields(summary), "summary_html": markdown_html(summary.summary), "steps": steps}
    )


def _fields(summary: ChallengeSummary) -> dict[str, object]:
    return {name: getattr(summary, name) for name in ChallengeSummary.__dataclass_fields__}
