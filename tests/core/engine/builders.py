"""Small challenges built in code, event factories and the given/when/then helpers for engine tests.

Nothing here reads the YAML files in ``challenges/``: every test states the challenge it plays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.engine.challenge import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PASS_THRESHOLD,
    ChallengeSpec,
    ChoiceSpec,
    RubricItemSpec,
    StepKind,
    StepSpec,
)
from core.engine.commands import Command, ItemVerdict, RecordEvaluation, Verdict
from core.engine.decide import decide
from core.engine.events import (
    AnswerGraded,
    AnswerSubmitted,
    Event,
    SessionCreated,
    SessionStarted,
    StepClosed,
    StepEntered,
)
from core.engine.state import SessionState, fold

AT = "2024-05-01T10:00:00+00:00"
LATER = "2024-05-01T10:05:00+00:00"
SESSION_ID = "session-1"
LEARNER_ID = "learner-1"


# --- challenge specs ------------------------------------------------------------------------------


def gate(
    step_id: str = "welcome", *, narrate: bool = False, explanation: str | None = None
) -> StepSpec:
    return StepSpec(
        id=step_id,
        kind=StepKind.GATE,
        title=f"Gate {step_id}",
        body="Read this first.",
        max_attempts=DEFAULT_MAX_ATTEMPTS[StepKind.GATE],
        pass_threshold=DEFAULT_PASS_THRESHOLD[StepKind.GATE],
        narrate=narrate,
        explanation=explanation,
    )


def _scored(
    step_id: str,
    kind: StepKind,
    *,
    points: int,
    max_attempts: int | None,
    pass_threshold: int | None,
    hints: Sequence[str],
    max_llm_hints: int,
    hint_cost: int,
    explanation: str | None,
    narrate: bool,
    **extra: object,
) -> StepSpec:
    return StepSpec(
        id=step_id,
        kind=kind,
        title=f"Step {step_id}",
        prompt=f"Prompt of {step_id}",
        points=points,
        max_attempts=max_attempts if max_attempts is not None else DEFAULT_MAX_ATTEMPTS[kind],
        pass_threshold=(
            pass_threshold if pass_threshold is not None else DEFAULT_PASS_THRESHOLD[kind]
        ),
        hints=tuple(hints),
        max_llm_hints=max_llm_hints,
        hint_cost=hint_cost,
        explanation=explanation,
        narrate=narrate,
        **extra,  # type: ignore[arg-type]
    )


def mcq(
    step_id: str = "what-is",
    *,
    points: int = 20,
    correct: int = 0,
    n_choices: int = 3,
    max_attempts: int | None = None,
    pass_threshold: int | None = None,
    hints: Sequence[str] = (),
    max_llm_hints: int = 0,
    hint_cost: int = 10,
    explanation: str | None = None,
    narrate: bool = False,
    feedback: dict[int, str] | None = None,
) -> StepSpec:
    feedback = feedback or {}
    choices = tuple(
        ChoiceSpec(f"choice {i}", i == correct, feedback.get(i)) for i in range(n_choices)
    )
    return _scored(
        step_id,
        StepKind.MCQ,
        points=points,
        max_attempts=max_attempts,
        pass_threshold=pass_threshold,
        hints=hints,
        max_llm_hints=max_llm_hints,
        hint_cost=hint_cost,
        explanation=explanation,
        narrate=narrate,
        choices=choices,
    )


def multi(
    step_id: str = "pick-all",
    *,
    points: int = 30,
    correct: Iterable[int] = (0, 1, 2),
    n_choices: int = 6,
    max_attempts: int | None = None,
    pass_threshold: int | None = None,
    hints: Sequence[str] = (),
    max_llm_hints: int = 0,
    hint_cost: int = 10,
    explanation: str | None = None,
) -> StepSpec:
    right = set(correct)
    choices = tuple(ChoiceSpec(f"option {i}", i in right) for i in range(n_choices))
    return _scored(
        step_id,
        StepKind.MULTI,
        points=points,
        max_attempts=max_attempts,
        pass_threshold=pass_threshold,
        hints=hints,
        max_llm_hints=max_llm_hints,
        hint_cost=hint_cost,
        explanation=explanation,
        narrate=False,
        choices=choices,
    )


def true_false(
    step_id: str = "must-return",
    *,
    answer: bool = False,
    points: int = 20,
    max_attempts: int | None = None,
    pass_threshold: int | None = None,
    hints: Sequence[str] = (),
    max_llm_hints: int = 0,
    hint_cost: int = 10,
    explanation: str | None = None,
) -> StepSpec:
    return _scored(
        step_id,
        StepKind.TRUE_FALSE,
        points=points,
        max_attempts=max_attempts,
        pass_threshold=pass_threshold,
        hints=hints,
        max_llm_hints=max_llm_hints,
        hint_cost=hint_cost,
        explanation=explanation,
        narrate=False,
        answer=answer,
    )


def chat(
    step_id: str = "why",
    *,
    rubric: Sequence[tuple[str, int]] = (("reuse", 15), ("organisation", 15)),
    max_attempts: int | None = None,
    pass_threshold: int | None = None,
    hints: Sequence[str] = (),
    max_llm_hints: int = 0,
    hint_cost: int = 10,
    explanation: str | None = None,
    narrate: bool = False,
) -> StepSpec:
    items = tuple(RubricItemSpec(item_id, f"About {item_id}", pts) for item_id, pts in rubric)
    return _scored(
        step_id,
        StepKind.CHAT,
        points=sum(pts for _, pts in rubric),
        max_attempts=max_attempts,
        pass_threshold=pass_threshold,
        hints=hints,
        max_llm_hints=max_llm_hints,
        hint_cost=hint_cost,
        explanation=explanation,
        narrate=narrate,
        rubric=items,
        reference_answer="Functions let you reuse code and organise a program.",
    )


def challenge(*steps: StepSpec, xp: int = 100, passing_score: int = 70) -> ChallengeSpec:
    return ChallengeSpec(
        id="demo",
        version=3,
        title="Demo challenge",
        xp=xp,
        passing_score=passing_score,
        steps=steps,
    )


# --- events ---------------------------------------------------------------------------------------


def created(ch: ChallengeSpec, *, at: str = AT) -> SessionCreated:
    return SessionCreated(
        at=at,
        session_id=SESSION_ID,
        learner_id=LEARNER_ID,
        challenge_id=ch.id,
        challenge_version=ch.version,
        title=ch.title,
        total_steps=len(ch.steps),
        max_score=ch.max_score,
        passing_score=ch.passing_score,
        xp=ch.xp,
    )


def started(*, at: str = AT) -> SessionStarted:
    return SessionStarted(at=at)


def entered(ch: ChallengeSpec, index: int, *, at: str = AT) -> StepEntered:
    step = ch.steps[index]
    return StepEntered(
        at=at,
        step_id=step.id,
        index=index,
        kind=step.kind.value,
        points=step.points,
        max_attempts=step.max_attempts,
        hints_available=step.hints_available,
        narrate=step.narrate,
    )


def on_step(ch: ChallengeSpec, index: int, *, scores: Sequence[float] | None = None) -> list[Event]:
    """Events of a session that has closed steps before ``index`` (full marks unless ``scores``)."""
    events: list[Event] = [created(ch), started(), entered(ch, 0)]
    for i in range(index):
        score = float(ch.steps[i].points) if scores is None else float(scores[i])
        events.append(
            StepClosed(
                at=AT,
                step_id=ch.steps[i].id,
                index=i,
                score=score,
                passed=True,
                explanation=ch.steps[i].explanation,
            )
        )
        events.append(entered(ch, i + 1))
    return events


def verdict(*items: tuple[str, float], feedback: str = "Good effort.") -> Verdict:
    return Verdict(
        items=tuple(ItemVerdict(item_id, pts, f"on {item_id}") for item_id, pts in items),
        feedback=feedback,
        rationale="because",
        grader="fake-grader",
    )


def evaluate(
    attempt: int,
    *items: tuple[str, float],
    step_id: str = "why",
    xp_already_granted: bool = False,
) -> RecordEvaluation:
    """The service recording a grader's verdict for a pending chat attempt."""
    return RecordEvaluation(
        at=LATER,
        step_id=step_id,
        attempt=attempt,
        verdict=verdict(*items),
        xp_already_granted=xp_already_granted,
    )


def pending_chat(
    ch: ChallengeSpec, attempt: int = 1, *, index: int = 0, previous: Sequence[float] = ()
) -> SessionState:
    """A session on chat step ``index`` with ``previous`` failed grades and ``attempt`` pending."""
    step = ch.steps[index]
    events = on_step(ch, index)
    for number, score in enumerate(previous, start=1):
        events.append(
            AnswerSubmitted(at=AT, step_id=step.id, attempt=number, answer="x", display="x")
        )
        events.append(
            AnswerGraded(
                at=AT,
                step_id=step.id,
                attempt=number,
                score=score,
                max_points=step.points,
                available=float(step.points),
                passed=False,
                feedback="",
                grader="fake-grader",
            )
        )
    events.append(
        AnswerSubmitted(
            at=AT, step_id=step.id, attempt=attempt, answer="To reuse code.", display="x"
        )
    )
    return fold(events)


# --- given / when / then --------------------------------------------------------------------------


def given(events: Iterable[Event]) -> SessionState:
    """The state after ``events``."""
    return fold(events)


def when(ch: ChallengeSpec, state: SessionState, command: Command) -> list[Event]:
    """The events ``command`` causes on ``state``."""
    return decide(ch, state, command)


def then(actual: list[Event], expected: list[Event]) -> None:
    """Exactly these events, in this order."""
    assert actual == expected


def play(ch: ChallengeSpec, *commands: Command, state: SessionState | None = None) -> list[Event]:
    """Run ``commands`` one after another (each must succeed) and return every event produced."""
    events: list[Event] = []
    current = state if state is not None else SessionState()
    for command in commands:
        new = decide(ch, current, command)
        events.extend(new)
        current = fold(new, current)
    return events
