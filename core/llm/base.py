"""The three LLM tasks as typed requests and results, and the provider interface.

Providers only narrate, evaluate free text against a rubric and give hints; the engine decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.engine.commands import Verdict
from core.engine.events import LlmTrace


class LlmTask(StrEnum):
    GM_NARRATE = "GM_NARRATE"
    LEM_EVALUATE = "LEM_EVALUATE"
    TEACH_HINTS = "TEACH_HINTS"


TEMPERATURE = {LlmTask.GM_NARRATE: 0.7, LlmTask.LEM_EVALUATE: 0.0, LlmTask.TEACH_HINTS: 0.4}


@dataclass(frozen=True, slots=True)
class RubricCriterion:
    id: str
    description: str
    points: int
    concepts: tuple[str, ...] = ()
    misconceptions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NarrationRequest:
    challenge_title: str
    tone: str
    persona: str | None
    step_title: str
    step_body: str | None
    authored_text: str | None
    progress_summary: str


@dataclass(frozen=True, slots=True)
class HintRequest:
    challenge_title: str
    step_title: str
    step_kind: str
    prompt: str
    choices: tuple[str, ...]
    rubric: tuple[RubricCriterion, ...]
    hint_index: int
    previous_hints: tuple[str, ...]
    previous_answers: tuple[str, ...]
    # what a hint must never quote (correct choices, reference answer); never sent to a provider
    answer_key: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    prompt: str
    rubric: tuple[RubricCriterion, ...]
    reference_answer: str | None
    answer: str
    points: int
    pass_threshold: int
    # The step's labelled answers (its ``examples``): graded demonstrations for an LLM and the
    # material the offline grader compares with and calibrates its cut-off on.
    pass_examples: tuple[str, ...] = ()
    fail_examples: tuple[str, ...] = ()
    # What the step learned from its reviewed answers (issue 14; core/llm/grading_learned.py):
    # the per-step model's probability that a reviewer passes this answer (None: no model yet),
    # how many labelled answers it was trained on, and the most similar of them (answer, passed)
    # as graded demonstrations for an LLM.
    learned_probability: float | None = None
    learned_labels: int = 0
    reviewed_examples: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class TextResult:
    text: str
    trace: LlmTrace


class LlmProvider(Protocol):
    """One LLM backend. Implementations raise on failure; the orchestrator decides what then."""

    name: str

    async def narrate(self, request: NarrationRequest) -> TextResult: ...

    async def hint(self, request: HintRequest) -> TextResult: ...

    async def evaluate(self, request: EvaluationRequest) -> Verdict: ...
