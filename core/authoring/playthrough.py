"""Play a challenge through the real engine with scripted answers, without a database.

Used by the authoring notebook and the content tests: the all-correct path must pass with full marks
on its choice steps, the all-wrong path must fail, and every labelled example must be graded as its
author expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.engine import ChallengeSpec, SessionState, Status, StepKind, StepSpec, run
from core.engine.commands import (
    CodeTestResult,
    Command,
    ContinueGate,
    CreateSession,
    RecordCodeRun,
    RecordEvaluation,
    StartSession,
    SubmitAnswer,
    Verdict,
)
from core.engine.events import Answer, CodeRunTrace, LlmTrace, StepClosed
from core.llm.base import EvaluationRequest, RubricCriterion
from core.llm.offline import evaluate_offline, prompt_hash

Chooser = Callable[[StepSpec, int], Answer]
Evaluate = Callable[[EvaluationRequest], Verdict]
AT = "2000-01-01T00:00:00.000+00:00"


@dataclass(frozen=True, slots=True)
class PathResult:
    """The completed session, each step's closing score and pass, and the last answer given."""

    state: SessionState
    step_scores: dict[str, float]
    step_passed: dict[str, bool] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.state.result and self.state.result.passed)

    @property
    def score(self) -> float:
        return self.state.score


def correct_answer(step: StepSpec, attempt: int) -> Answer:
    """The right answer: the correct choice(s), the true/false answer, a passing example."""
    if step.kind is StepKind.MCQ:
        return min(step.correct_choices)
    if step.kind is StepKind.MULTI:
        return tuple(sorted(step.correct_choices))
    if step.kind is StepKind.TRUE_FALSE:
        return bool(step.answer)
    if step.kind is StepKind.CODE and step.code is not None:
        return step.code.solution
    return step.reference_answer or step.prompt or step.title


def wrong_answer(step: StepSpec, attempt: int) -> Answer:
    """A wrong answer: a wrong choice, every wrong choice, the opposite boolean, an off-topic text."""
    if step.kind is StepKind.MCQ:
        wrong = [i for i in range(len(step.choices)) if i not in step.correct_choices]
        return wrong[attempt % len(wrong)]
    if step.kind is StepKind.MULTI:
        wrong_choices = tuple(i for i in range(len(step.choices)) if i not in step.correct_choices)
        return wrong_choices or (min(step.correct_choices),)
    if step.kind is StepKind.TRUE_FALSE:
        return not step.answer
    if step.kind is StepKind.CODE and step.code is not None:
        return step.code.starter or "pass"
    return "I am not sure, maybe it is about making the computer faster."


def offline_verdict(request: EvaluationRequest) -> Verdict:
    """The offline evaluator's verdict, the default grader of a playthrough."""
    return evaluate_offline(
        request, trace=LlmTrace("offline", "offline", prompt_hash(request.answer))
    )


def evaluation_request(step: StepSpec, answer: str, *, hold_out: bool = True) -> EvaluationRequest:
    """The evaluation request a session would send for ``answer`` to chat step ``step``.

    An answer that is one of the step's labelled examples is graded with that example held out
    (unless ``hold_out`` is false), so validation measures what the grader makes of it, not what
    its label says."""
    held_out = answer.strip() if hold_out else None
    return EvaluationRequest(
        prompt=step.prompt or step.title,
        rubric=tuple(
            RubricCriterion(r.id, r.description, r.points, r.concepts, r.misconceptions)
            for r in step.rubric
        ),
        reference_answer=step.reference_answer,
        answer=answer,
        points=step.points,
        pass_threshold=step.pass_threshold,
        pass_examples=tuple(e for e in step.pass_examples if e.strip() != held_out),
        fail_examples=tuple(e for e in step.fail_examples if e.strip() != held_out),
    )


def play_path(
    challenge: ChallengeSpec, choose: Chooser, evaluate: Evaluate = offline_verdict
) -> PathResult:
    """Play every step with ``choose(step, attempt)`` until the session completes; chat answers are
    graded by ``evaluate`` (the offline evaluator unless given)."""
    state = SessionState()
    state, _ = run(
        challenge, state, CreateSession(at=AT, session_id="playthrough", learner_id="author")
    )
    state, _ = run(challenge, state, StartSession(at=AT))
    scores: dict[str, float] = {}
    passed: dict[str, bool] = {}
    answers: dict[str, Answer] = {}
    guard = sum(step.max_attempts for step in challenge.steps) + len(challenge.steps) + 1
    for _ in range(guard):
        current = state.current
        if state.status is not Status.ACTIVE or current is None:
            break
        step = challenge.steps[current.index]
        command: Command
        if step.kind is StepKind.GATE:
            command = ContinueGate(at=AT, step_id=step.id)
        else:
            answers[step.id] = choose(step, current.attempts)
            command = SubmitAnswer(at=AT, step_id=step.id, answer=answers[step.id])
        state, events = run(challenge, state, command)
        if (
            step.kind is StepKind.CHAT
            and state.current is not None
            and state.current.pending_attempt
        ):
            request = evaluation_request(step, str(state.current.pending_answer))
            verdict = evaluate(request)
            state, events = run(
                challenge,
                state,
                RecordEvaluation(
                    at=AT, step_id=step.id, attempt=state.current.pending_attempt, verdict=verdict
                ),
            )
        if (
            step.kind is StepKind.CODE
            and step.code is not None
            and state.current is not None
            and state.current.pending_attempt
        ):
            # The path checks the engine's flow; the sandbox runs (solution must pass every
            # test, starter must fail one) are the authoring "code" check.
            ok = state.current.pending_answer == step.code.solution
            results = tuple(CodeTestResult(t.id, ok) for t in step.code.tests)
            state, events = run(
                challenge,
                state,
                RecordCodeRun(
                    at=AT,
                    step_id=step.id,
                    attempt=state.current.pending_attempt,
                    results=results,
                    run=CodeRunTrace("authoring", "ok", 0, step.code.language),
                ),
            )
        for event in events:
            if isinstance(event, StepClosed):
                scores[step.id] = event.score
                passed[step.id] = event.passed
    return PathResult(state, scores, passed, answers)
