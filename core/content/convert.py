"""Convert validated challenge models into the engine's plain dataclasses."""

from __future__ import annotations

from typing import Any

from core.content.models import (
    ChallengeFile,
    ChatStep,
    CodeStep,
    GateStep,
    McqStep,
    MultiStep,
    TrueFalseStep,
)
from core.engine.challenge import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PASS_THRESHOLD,
    ChallengeSpec,
    ChoiceSpec,
    CodeSpec,
    CodeTestSpec,
    RubricItemSpec,
    StepKind,
    StepSpec,
)

AnyStep = GateStep | McqStep | MultiStep | TrueFalseStep | ChatStep | CodeStep


def to_spec(challenge: ChallengeFile, *, version: int | None = None) -> ChallengeSpec:
    """Return the engine's spec of ``challenge`` (``version`` overrides the file's, when stored)."""
    return ChallengeSpec(
        id=challenge.id,
        version=version if version is not None else challenge.version,
        title=challenge.title,
        summary=challenge.summary,
        difficulty=challenge.difficulty,
        tags=tuple(challenge.tags),
        estimated_minutes=challenge.estimated_minutes,
        xp=challenge.xp,
        passing_score=challenge.passing_score,
        tone=challenge.narrator.tone,
        persona=challenge.narrator.persona,
        steps=tuple(_step(step) for step in challenge.steps),
        llm_provider=challenge.llm.provider if challenge.llm else None,
        llm_model=challenge.llm.model if challenge.llm else None,
    )


def spec_from_definition(definition: dict[str, Any], version: int) -> ChallengeSpec:
    """Rebuild a spec from a stored definition (the validated file as JSON)."""
    return to_spec(ChallengeFile.model_validate(definition), version=version)


def _step(step: AnyStep) -> StepSpec:
    kind = StepKind(step.type)
    if isinstance(step, GateStep):
        return StepSpec(
            id=step.id,
            kind=kind,
            title=step.title,
            body=step.body,
            prompt=step.prompt,
            max_attempts=1,
            narrate=step.narrate,
            narration=step.narration,
            explanation=step.explanation,
        )
    common: dict[str, Any] = {
        "id": step.id,
        "kind": kind,
        "title": step.title,
        "body": step.body,
        "prompt": step.prompt,
        "points": step.points,
        "pass_threshold": (
            step.pass_threshold if step.pass_threshold is not None else DEFAULT_PASS_THRESHOLD[kind]
        ),
        "max_attempts": step.max_attempts or DEFAULT_MAX_ATTEMPTS[kind],
        "hints": tuple(step.hints),
        "max_llm_hints": step.max_llm_hints,
        "hint_cost": step.hint_cost,
        "explanation": step.explanation,
        "narrate": step.narrate,
        "narration": step.narration,
    }
    if isinstance(step, McqStep | MultiStep):
        choices = tuple(ChoiceSpec(c.text, c.correct, c.feedback) for c in step.choices)
        return StepSpec(**common, choices=choices)
    if isinstance(step, TrueFalseStep):
        return StepSpec(**common, answer=step.answer)
    if isinstance(step, CodeStep):
        return StepSpec(**common, code=code_spec(step))
    rubric = tuple(
        RubricItemSpec(
            item.id,
            item.description,
            item.points,
            tuple(item.concepts),
            tuple(item.misconceptions),
        )
        for item in step.rubric
    )
    return StepSpec(
        **common,
        rubric=rubric,
        reference_answer=step.reference_answer,
        pass_examples=tuple(e.answer for e in step.examples if e.expect == "pass"),
        fail_examples=tuple(e.answer for e in step.examples if e.expect == "fail"),
    )


def code_spec(step: CodeStep) -> CodeSpec:
    """The engine's view of a code step; a sql step without tests has one test, ``result``."""
    tests = tuple(
        CodeTestSpec(t.id, t.points, t.code or "", t.setup or "", t.hidden) for t in step.tests
    ) or (CodeTestSpec("result", step.points),)
    return CodeSpec(
        language=step.language,
        tests=tests,
        solution=step.solution,
        starter=step.starter,
        setup=step.setup or "",
        order_matters=step.order_matters,
        time_limit_seconds=float(step.time_limit_seconds),
        memory_limit_mb=step.memory_limit_mb,
    )
