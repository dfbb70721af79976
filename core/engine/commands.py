"""Commands: what a learner (or the service, on the LLM's behalf) asks the engine to do.

Time and grader verdicts arrive inside commands, so the engine itself stays deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.events import Answer, CodeRunTrace, LlmTrace
from core.engine.frozen import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Command:
    at: str


@quick_init
@dataclass(frozen=True, slots=True)
class CreateSession(Command):
    session_id: str
    learner_id: str


@quick_init
@dataclass(frozen=True, slots=True)
class StartSession(Command):
    pass


@quick_init
@dataclass(frozen=True, slots=True)
class SubmitAnswer(Command):
    step_id: str
    answer: Answer
    xp_already_granted: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class ContinueGate(Command):
    step_id: str
    xp_already_granted: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class RequestHint(Command):
    step_id: str


@quick_init
@dataclass(frozen=True, slots=True)
class ItemVerdict:
    """A grader's claim for one rubric item; the engine clamps it to the item's points."""

    id: str
    points: float
    feedback: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class Verdict:
    """A grader's verdict on a chat answer: an input the engine clamps, never a decision."""

    items: tuple[ItemVerdict, ...]
    feedback: str
    rationale: str
    grader: str
    trace: LlmTrace | None = None
    flags: tuple[str, ...] = ()
    # How sure the grader is (0–1; None for graders that do not say) and whether a person should
    # look at this grade (confidence below GRADING_REVIEW_BELOW). Shown to reviewers, not learners.
    confidence: float | None = None
    needs_review: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class RecordEvaluation(Command):
    step_id: str
    attempt: int
    verdict: Verdict
    xp_already_granted: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class RecordHint(Command):
    step_id: str
    hint_index: int
    text: str
    source: str
    trace: LlmTrace | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class RecordNarration(Command):
    step_id: str
    text: str
    source: str
    trace: LlmTrace | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class AbandonSession(Command):
    pass


@quick_init
@dataclass(frozen=True, slots=True)
class CodeTestResult:
    """One test's outcome as the sandbox reported it (message and output are the learner's)."""

    id: str
    passed: bool
    message: str = ""
    output: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class RecordCodeRun(Command):
    """The sandbox's report on a pending code answer; the engine turns it into points."""

    step_id: str
    attempt: int
    results: tuple[CodeTestResult, ...]
    run: CodeRunTrace
    xp_already_granted: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class ReviewGrade(Command):
    """A reviewer's verdict on one graded chat attempt: pass or fail, optionally points per rubric
    item (items left out keep the grader's points), and a comment for the learner.

    ``replace``: a second review of the same attempt is refused unless this is set.
    """

    step_id: str
    attempt: int
    passed: bool
    items: tuple[ItemVerdict, ...] | None = None
    comment: str = ""
    replace: bool = False
    xp_already_granted: bool = False
