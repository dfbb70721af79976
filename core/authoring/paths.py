"""The all-correct and all-wrong paths through the real engine, as checks with findings.

The all-correct path answers every choice step right and every chat step with its first ``pass``
example; it must pass with full marks on the choice steps. The all-wrong path answers every step
wrong; it must fail, and no wrong answer may pass a step.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.authoring.evaluators import Evaluator
from core.authoring.findings import Finding, Severity
from core.authoring.grading import grade_answer
from core.authoring.playthrough import PathResult, correct_answer, play_path, wrong_answer
from core.authoring.render import badge, html_table, points, shorten
from core.content.models import ChallengeFile, ChatStep
from core.engine import ChallengeSpec, StepKind, StepSpec
from core.engine.events import Answer

CORRECT = "all-correct path"
WRONG = "all-wrong path"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step_id: str
    kind: str
    answer: str
    score: float
    points: int
    passed: bool


@dataclass(frozen=True, slots=True, repr=False)
class PathCheck:
    """One scripted path played through the engine; displays as a table in a notebook."""

    name: str
    passed: bool
    score: float
    max_score: int
    passing_score: int
    xp_granted: int
    steps: tuple[StepOutcome, ...]
    findings: tuple[Finding, ...]

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "failed"
        return f"<{self.name}: {verdict} {self.score:g}/{self.max_score}, {len(self.findings)} findings>"

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 100.0

    def _repr_html_(self) -> str:
        rows = [
            [
                s.step_id,
                s.kind,
                shorten(s.answer, 70),
                f"{points(s.score)}/{s.points}",
                "yes" if s.passed else "no",
            ]
            for s in self.steps
        ]
        head = (
            f"<p><strong>{self.name}</strong>: session {badge(self.passed, no='failed')} with "
            f"{points(self.score)}/{self.max_score} ({self.percent:.0f}%; passing score "
            f"{self.passing_score}%), {self.xp_granted} XP.</p>"
        )
        problems = "".join(f"<li>{f}</li>" for f in self.findings)
        tail = f"<ul style='color:#cf222e'>{problems}</ul>" if problems else ""
        return head + html_table(["step", "type", "answer", "score", "step passed"], rows) + tail


def _display(step: StepSpec, answer: Answer) -> str:
    if step.kind is StepKind.MCQ and isinstance(answer, int):
        return f"choice {answer + 1}: {step.choices[answer].text}"
    if step.kind is StepKind.MULTI and isinstance(answer, tuple):
        return "; ".join(f"choice {i + 1}: {step.choices[i].text}" for i in answer)
    return str(answer)


def _check(
    name: str, spec: ChallengeSpec, result: PathResult, findings: list[Finding]
) -> PathCheck:
    outcomes = tuple(
        StepOutcome(
            step.id,
            step.kind.value,
            _display(step, result.answers[step.id]) if step.id in result.answers else "(continue)",
            result.step_scores.get(step.id, 0.0),
            step.points,
            result.step_passed.get(step.id, False),
        )
        for step in spec.steps
    )
    outcome = result.state.result
    return PathCheck(
        name=name,
        passed=result.passed,
        score=result.score,
        max_score=spec.max_score,
        passing_score=spec.passing_score,
        xp_granted=outcome.xp_granted if outcome else 0,
        steps=outcomes,
        findings=tuple(findings),
    )


def passing_answers(challenge: ChallengeFile) -> dict[str, str]:
    """The answer the all-correct path gives each chat step: its first ``pass`` example, else the
    reference answer, else the prompt."""
    answers = {}
    for step in challenge.steps:
        if isinstance(step, ChatStep):
            first = next((e.answer for e in step.examples if e.expect == "pass"), None)
            answers[step.id] = first or step.reference_answer or step.prompt
    return answers


def check_correct_path(
    challenge: ChallengeFile, spec: ChallengeSpec, evaluator: Evaluator
) -> PathCheck:
    """Play the all-correct path; it must pass, with full marks on every choice step."""
    chat = passing_answers(challenge)

    def choose(step: StepSpec, attempt: int) -> Answer:
        return chat[step.id] if step.kind is StepKind.CHAT else correct_answer(step, attempt)

    result = play_path(spec, choose, evaluator.evaluate)
    findings = []
    for step in spec.steps:
        score = result.step_scores.get(step.id, 0.0)
        if step.kind is StepKind.CHAT and not result.step_passed.get(step.id, False):
            graded = grade_answer(spec, step.id, chat[step.id], evaluator)
            message = (
                f"the right answer (first 'pass' example) failed this step: "
                f"{points(graded.score)}/{step.points} ({graded.breakdown}; pass mark "
                f"{step.pass_threshold}%); {graded.rationale}"
            )
            findings.append(Finding(CORRECT, Severity.ERROR, message, step.id, "examples"))
        elif (
            step.kind in (StepKind.MCQ, StepKind.MULTI, StepKind.TRUE_FALSE)
            and score != step.points
        ):
            message = f"the right answer earned {points(score)}/{step.points}, not full marks"
            findings.append(Finding(CORRECT, Severity.ERROR, message, step.id, "choices"))
    if not result.passed:
        percent = 100 * result.score / spec.max_score if spec.max_score else 100.0
        message = (
            f"the all-correct path fails the challenge: {points(result.score)}/{spec.max_score} "
            f"({percent:.0f}%) is below passing_score {spec.passing_score}%"
        )
        findings.append(Finding(CORRECT, Severity.ERROR, message, None, "passing_score"))
    return _check(CORRECT, spec, result, findings)


def check_wrong_path(
    challenge: ChallengeFile, spec: ChallengeSpec, evaluator: Evaluator
) -> PathCheck:
    """Play the all-wrong path; it must fail, and no wrong answer may pass its step. Also check
    that copying a chat step's prompt back as the answer does not pass it."""
    result = play_path(spec, wrong_answer, evaluator.evaluate)
    findings = []
    for step in spec.steps:
        if step.kind is StepKind.GATE or not result.step_passed.get(step.id, False):
            continue
        answer = _display(step, result.answers[step.id])
        score = result.step_scores.get(step.id, 0.0)
        field = "rubric" if step.kind is StepKind.CHAT else "choices"
        message = (
            f"a wrong answer passes this step: {shorten(answer, 70)!r} earned "
            f"{points(score)}/{step.points}; check which choices are marked correct"
            if field == "choices"
            else f"an off-topic answer passes this step: {shorten(answer, 70)!r} earned "
            f"{points(score)}/{step.points}; make the rubric concepts more specific"
        )
        findings.append(Finding(WRONG, Severity.ERROR, message, step.id, field))
    if result.passed:
        earners = [
            f"{s.id} {points(result.step_scores[s.id])}/{s.points}"
            for s in spec.steps
            if result.step_scores.get(s.id, 0.0) > 0
        ]
        message = (
            f"the all-wrong path passes the challenge with {points(result.score)}/"
            f"{spec.max_score} (passing_score {spec.passing_score}%); wrong answers earned points "
            f"on: {', '.join(earners) or 'no step'}"
        )
        findings.append(Finding(WRONG, Severity.ERROR, message, None, "passing_score"))
        findings.extend(
            Finding(
                WRONG,
                Severity.ERROR,
                "a wrong answer earned points here and the all-wrong path passes the challenge",
                s.id,
                "choices",
            )
            for s in spec.steps
            if result.step_scores.get(s.id, 0.0) > 0 and not result.step_passed.get(s.id, False)
        )
    for step in spec.steps:
        if step.kind is StepKind.CHAT and step.prompt:
            echo = grade_answer(spec, step.id, step.prompt, evaluator)
            if echo.passed:
                message = (
                    f"copying the prompt back as the answer passes: {points(echo.score)}/"
                    f"{step.points} ({echo.breakdown}); {echo.rationale}. Use concepts that the "
                    "question itself does not contain"
                )
                findings.append(Finding(WRONG, Severity.WARNING, message, step.id, "rubric"))
    return _check(WRONG, spec, result, findings)
