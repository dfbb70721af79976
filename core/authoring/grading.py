"""Grading chat answers the way a session would: the evaluator's verdict, clamped by the real engine.

``grade_answer`` plays one answer on a one-step copy of the challenge, so the per-item points, the
pass mark and the flags are exactly what a learner would get. ``grade_examples`` does it for every
labelled example and reports each disagreement as a finding naming the step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.authoring.evaluators import Evaluator
from core.authoring.findings import Finding, Severity
from core.authoring.playthrough import AT, evaluation_request
from core.authoring.render import BAD, OK, html_table, points, shorten
from core.content.models import ChallengeFile, ChatStep
from core.engine import ChallengeSpec, SessionState, StepKind, StepSpec, run
from core.engine.commands import CreateSession, RecordEvaluation, StartSession, SubmitAnswer
from core.engine.events import AnswerGraded
from core.errors import InvalidContent
from core.llm.grading_attacks import generate_attacks

CHECK = "examples"
ATTACKS = "attacks"


@dataclass(frozen=True, slots=True)
class ItemGrade:
    id: str
    points: float
    max_points: int
    feedback: str


@dataclass(frozen=True, slots=True)
class GradeResult:
    """One graded answer: what the engine recorded for it."""

    step_id: str
    answer: str
    passed: bool
    score: float
    max_score: int
    pass_threshold: int
    items: tuple[ItemGrade, ...]
    feedback: str
    rationale: str
    flags: tuple[str, ...]
    grader: str
    model: str | None
    provisional: bool
    confidence: float | None = None  # for reviewers and authors, never shown to learners
    needs_review: bool = False

    @property
    def breakdown(self) -> str:
        """``reuse 10/10, organisation 0/10``."""
        return ", ".join(f"{i.id} {points(i.points)}/{i.max_points}" for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step_id,
            "passed": self.passed,
            "score": self.score,
            "max_score": self.max_score,
            "pass_threshold": self.pass_threshold,
            "items": [
                {"id": i.id, "points": i.points, "max_points": i.max_points, "feedback": i.feedback}
                for i in self.items
            ],
            "feedback": self.feedback,
            "rationale": self.rationale,
            "flags": list(self.flags),
            "grader": self.grader,
            "model": self.model,
            "provisional": self.provisional,
            "confidence": self.confidence,
            "needs_review": self.needs_review,
        }


def find_chat_step(challenge: ChallengeSpec, step_id: str) -> StepSpec:
    """Return the chat step ``step_id``, or raise a message listing the chat steps there are."""
    chat_ids = [s.id for s in challenge.steps if s.kind is StepKind.CHAT]
    index = challenge.index_of(step_id)
    if index is None:
        raise InvalidContent(
            f"challenge {challenge.id!r} has no step {step_id!r}; "
            f"its chat steps are: {', '.join(chat_ids) or 'none'}"
        )
    step = challenge.steps[index]
    if step.kind is not StepKind.CHAT:
        raise InvalidContent(
            f"step {step_id!r} is a {step.kind.value} step; only chat steps are graded by an "
            f"evaluator (chat steps here: {', '.join(chat_ids) or 'none'})"
        )
    return step


def grade_answer(
    challenge: ChallengeSpec,
    step_id: str,
    answer: str,
    evaluator: Evaluator,
    *,
    hold_out: bool = True,
) -> GradeResult:
    """Grade ``answer`` to chat step ``step_id`` with ``evaluator``, through the real engine (an
    answer that is one of the step's examples is graded with it held out unless ``hold_out`` is
    false).

    Raises :class:`core.errors.InvalidContent` for a missing or non-chat step and
    :class:`core.errors.InvalidAnswer` for an answer the engine refuses (empty, too long)."""
    step = replace(find_chat_step(challenge, step_id), narrate=False, max_attempts=1)
    alone = replace(challenge, steps=(step,))
    state = SessionState()
    create = CreateSession(at=AT, session_id="grade", learner_id="author")
    state, _ = run(alone, state, create)
    state, _ = run(alone, state, StartSession(at=AT))
    state, _ = run(alone, state, SubmitAnswer(at=AT, step_id=step.id, answer=answer))
    assert state.current is not None and state.current.pending_attempt is not None
    request = evaluation_request(step, str(state.current.pending_answer), hold_out=hold_out)
    verdict = evaluator.evaluate(request)
    record = RecordEvaluation(
        at=AT, step_id=step.id, attempt=state.current.pending_attempt, verdict=verdict
    )
    _, events = run(alone, state, record)
    graded = next(e for e in events if isinstance(e, AnswerGraded))
    trace = graded.trace
    return GradeResult(
        step_id=step.id,
        answer=answer,
        passed=graded.passed,
        score=graded.score,
        max_score=step.points,
        pass_threshold=step.pass_threshold,
        items=tuple(ItemGrade(i.id, i.points, i.max_points, i.feedback) for i in graded.items),
        feedback=graded.feedback,
        rationale=graded.rationale,
        flags=graded.flags,
        grader=graded.grader,
        model=trace.model if trace else None,
        provisional=bool(trace and trace.provisional),
        confidence=graded.confidence,
        needs_review=graded.needs_review,
    )


@dataclass(frozen=True, slots=True)
class ExampleGrade:
    step_id: str
    index: int
    expected: str
    result: GradeResult

    @property
    def got(self) -> str:
        return "pass" if self.result.passed else "fail"

    @property
    def agrees(self) -> bool:
        return self.got == self.expected

    def finding(self) -> Finding | None:
        """A finding when the evaluator disagrees with the label or could not really grade."""
        result = self.result
        field = f"examples[{self.index}]"
        if not self.agrees:
            hint = (
                "add the idea it expresses to a rubric item's concepts or to the reference answer"
                if self.expected == "pass"
                else "it matched concepts a wrong answer should not match; tighten them"
            )
            message = (
                f"labelled {self.expected} but graded {self.got}: "
                f"{points(result.score)}/{result.max_score} ({result.breakdown}; "
                f"pass mark {result.pass_threshold}%) for {shorten(result.answer, 70)!r}; "
                f"{result.rationale}. Fix the label, or {hint}"
            )
            return Finding(CHECK, Severity.ERROR, message, self.step_id, field)
        if result.provisional:
            message = (
                f"graded provisionally by the offline fallback ({result.grader}): the provider "
                "did not answer in time or failed"
            )
            return Finding(CHECK, Severity.WARNING, message, self.step_id, field)
        return None


@dataclass(frozen=True, slots=True)
class StepAgreement:
    """How many of a step's labelled examples are graded as labelled, each held out in turn
    (leave-one-out) and with every example known to the grader (in-sample)."""

    step_id: str
    total: int
    held_out: int
    in_sample: int

    def describe(self) -> str:
        return (
            f"{self.step_id}: {self.held_out} of {self.total} held out (leave-one-out), "
            f"{self.in_sample} of {self.total} in-sample"
        )


@dataclass(frozen=True, slots=True)
class AttackGrade:
    """A generated attempt to game a chat step's grader, and what it earned."""

    step_id: str
    attack: str
    result: GradeResult

    def finding(self) -> Finding | None:
        if not self.result.passed:
            return None
        message = (
            f"a generated attack passes ({self.attack}): {points(self.result.score)}/"
            f"{self.result.max_score} for {shorten(self.result.answer, 70)!r}. Add the idea a "
            "right answer needs to the concepts, a misconception, or a fail example like it"
        )
        return Finding(ATTACKS, Severity.WARNING, message, self.step_id, "rubric")


@dataclass(frozen=True, slots=True, repr=False)
class ExampleGrades:
    """Every labelled example of every chat step, graded; displays as a table in a notebook."""

    challenge_id: str
    evaluator: str
    grades: tuple[ExampleGrade, ...]
    agreement: tuple[StepAgreement, ...] = ()
    attacks: tuple[AttackGrade, ...] = ()

    def __repr__(self) -> str:
        return (
            f"<{self.agreed} of {len(self.grades)} examples graded as labelled ({self.evaluator})>"
        )

    @property
    def agreed(self) -> int:
        return sum(grade.agrees for grade in self.grades)

    def findings(self) -> list[Finding]:
        found = [f for grade in self.grades if (f := grade.finding()) is not None]
        found += [f for attack in self.attacks if (f := attack.finding()) is not None]
        return found

    def _repr_html_(self) -> str:
        if not self.grades:
            return "<p>No chat step has labelled examples.</p>"
        rows = []
        for g in self.grades:
            r = g.result
            mark = "✓" if g.agrees else "✗ disagrees"
            flags = ", ".join(r.flags) + (" provisional" if r.provisional else "")
            rows.append(
                [
                    g.step_id,
                    str(g.index),
                    g.expected,
                    f"{g.got} {mark}",
                    f"{points(r.score)}/{r.max_score}",
                    r.breakdown,
                    flags.strip(),
                    shorten(r.answer, 80),
                ]
            )
        headers = ["step", "#", "expected", "got", "score", "per rubric item", "flags", "answer"]
        passing = [a for a in self.attacks if a.result.passed]
        summary = (
            f"<p>{self.agreed} of {len(self.grades)} examples graded as labelled, each held out "
            f"(evaluator: {self.evaluator}); {len(passing)} of {len(self.attacks)} generated "
            "attacks pass.</p>"
        )
        if self.agreement:
            steps = "; ".join(a.describe() for a in self.agreement)
            summary += f"<p>Graded as labelled per step: {steps}.</p>"
        colours = [OK if g.agrees else BAD for g in self.grades]
        return summary + html_table(headers, rows, colours=colours)


def grade_examples(
    challenge: ChallengeFile, spec: ChallengeSpec, evaluator: Evaluator
) -> ExampleGrades:
    """Grade every ``examples`` answer of every chat step of ``challenge`` with ``evaluator``, each
    held out (leave-one-out) and in-sample, and grade the attacks generated from each chat step."""
    grades = []
    agreement = []
    attacks = []
    for step in challenge.steps:
        if not isinstance(step, ChatStep):
            continue
        in_sample = 0
        held = []
        for index, example in enumerate(step.examples):
            result = grade_answer(spec, step.id, example.answer, evaluator)
            held.append(ExampleGrade(step.id, index, example.expect, result))
            known = grade_answer(spec, step.id, example.answer, evaluator, hold_out=False)
            in_sample += known.passed == (example.expect == "pass")
        grades += held
        if step.examples:
            agreed = sum(grade.agrees for grade in held)
            agreement.append(StepAgreement(step.id, len(step.examples), agreed, in_sample))
        base = evaluation_request(find_chat_step(spec, step.id), "")
        for attack in generate_attacks(base):
            result = grade_answer(spec, step.id, attack.answer, evaluator)
            attacks.append(AttackGrade(step.id, attack.name, result))
    return ExampleGrades(
        challenge.id, evaluator.name, tuple(grades), tuple(agreement), tuple(attacks)
    )
