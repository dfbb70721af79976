"""Session state and ``evolve``: a fold over events that never calls out and never reads the clock.

The state holds only what deciding and viewing need: aggregates, the current step in detail and a
bounded tail of the transcript. Its size does not grow with the number of events, so a snapshot
hydrates in the same time at event 10 and at event 10,000; the full history stays in the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

from core.engine.events import (
    AnswerGraded,
    AnswerSubmitted,
    Event,
    GradeReviewed,
    HintGiven,
    HintRequested,
    ItemResult,
    SessionAbandoned,
    SessionCompleted,
    SessionCreated,
    SessionStarted,
    StepClosed,
    StepEntered,
    StepNarrated,
)
from core.engine.frozen import quick_init, rebuilder
from core.engine.plain import to_sorted_plain

TRANSCRIPT_LIMIT = 50
# 2: per-step outcomes and answer choices; 3: transcript entries carry ``seq``; 4: a step's graded
# attempts and the closed steps (for reviews); 5: one record per closed step (``closed_steps``)
# replaces the two of version 4 (``outcomes`` and ``closed_steps``). A snapshot of another version
# is ignored by every reader (the service's load, ``db verify``) and the stream refolded instead.
STATE_SCHEMA_VERSION = 5


class Status(StrEnum):
    NEW = "new"
    CREATED = "created"
    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


@quick_init
@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of the conversation: narration, an answer, feedback, a hint or an explanation."""

    kind: str
    step_id: str
    text: str
    at: str
    source: str = ""
    score: float | None = None
    max_points: int | None = None
    passed: bool | None = None
    items: tuple[ItemResult, ...] = ()
    flags: tuple[str, ...] = ()
    provisional: bool = False
    # the choice(s) an answer picked (choice steps), and what the step could still earn when graded
    choice: int | bool | tuple[int, ...] | None = None
    available: float | None = None
    # Position in the whole transcript (1, 2, …), stable across replays: the tail kept in the
    # state drops old entries, so channels say "delivered up to N" instead of aligning tails.
    seq: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class AttemptGrade:
    """One graded attempt of a step: what it earned (capped by ``available``) and whether a person
    has reviewed it. Bounded by the step's attempts, so state stays small."""

    attempt: int
    score: float
    available: float
    max_points: int
    passed: bool
    items: tuple[ItemResult, ...] = ()
    reviewed: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class ClosedStep:
    """A step the learner finished, one record per step: its score and pass (after any review),
    its points, attempts and hints (for the result's breakdown) and its graded attempts (for
    reviews)."""

    step_id: str
    index: int
    kind: str
    score: float
    passed: bool
    points: int = 0
    attempts: int = 0
    hints: int = 0
    hint_cost_points: float = 0.0
    grades: tuple[AttemptGrade, ...] = ()


# The name the result breakdown used before schema 5, kept for readers written against it.
StepOutcome = ClosedStep


@quick_init
@dataclass(frozen=True, slots=True)
class StepProgress:
    """The current step: attempts, best score, hints, and any LLM work still pending."""

    step_id: str
    index: int
    kind: str
    points: int
    max_attempts: int
    hints_available: int
    narrate: bool
    narrated: bool = False
    attempts: int = 0
    best_score: float = 0.0
    hints_taken: int = 0
    hint_cost_points: float = 0.0
    pending_attempt: int | None = None
    pending_answer: Any = None
    pending_hint: int | None = None
    closed: bool = False
    grades: tuple[AttemptGrade, ...] = ()

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_attempts - self.attempts)

    @property
    def hints_left(self) -> int:
        return max(0, self.hints_available - self.hints_taken)

    @property
    def available(self) -> float:
        """What the step can still earn after the hints taken."""
        return max(0.0, round(self.points - self.hint_cost_points, 2))


@quick_init
@dataclass(frozen=True, slots=True)
class Result:
    passed: bool
    score: float
    max_score: int
    xp_granted: int


@quick_init
@dataclass(frozen=True, slots=True)
class SessionState:
    session_id: str = ""
    learner_id: str = ""
    challenge_id: str = ""
    challenge_version: int = 0
    title: str = ""
    status: Status = Status.NEW
    total_steps: int = 0
    max_score: int = 0
    passing_score: int = 0
    xp: int = 0
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str = ""
    score: float = 0.0
    steps_closed: int = 0
    steps_passed: int = 0
    current: StepProgress | None = None
    transcript: tuple[TranscriptEntry, ...] = ()
    result: Result | None = None
    version: int = 0
    closed_steps: tuple[ClosedStep, ...] = ()

    @property
    def outcomes(self) -> tuple[ClosedStep, ...]:
        """The closed steps, under the name the result breakdown used before schema 5."""
        return self.closed_steps

    @property
    def step_index(self) -> int:
        """Index of the current step (or the number of steps once finished)."""
        if self.current is not None:
            return self.current.index
        return self.steps_closed


def evolve(state: SessionState, event: Event) -> SessionState:
    """Return the state after ``event``; the only way state changes."""
    changes = _changes(state, event)
    changes["version"] = state.version + 1
    changes["updated_at"] = event.at
    # One new state per event: the changes of the event are gathered first, then built at once.
    return _rebuilt(state, changes)


def _changes(state: SessionState, event: Event) -> dict[str, Any]:
    """The fields ``event`` changes, by name (``version`` and ``updated_at`` aside)."""
    match event:
        case SessionCreated():
            return {
                "session_id": event.session_id,
                "learner_id": event.learner_id,
                "challenge_id": event.challenge_id,
                "challenge_version": event.challenge_version,
                "title": event.title,
                "status": Status.CREATED,
                "total_steps": event.total_steps,
                "max_score": event.max_score,
                "passing_score": event.passing_score,
                "xp": event.xp,
                "created_at": event.at,
            }
        case SessionStarted():
            return {"status": Status.ACTIVE, "started_at": event.at}
        case StepEntered():
            step = StepProgress(
                step_id=event.step_id,
                index=event.index,
                kind=event.kind,
                points=event.points,
                max_attempts=event.max_attempts,
                hints_available=event.hints_available,
                narrate=event.narrate,
            )
            return {"current": step}
        case StepNarrated():
            return {
                "current": _current_with(state, {"narrated": True}),
                "transcript": _logged(
                    state, "narration", event.step_id, event.text, event.at, source=event.source
                ),
            }
        case AnswerSubmitted():
            choice = None if isinstance(event.answer, str) else event.answer
            return {
                "current": _current_with(
                    state, {"pending_attempt": event.attempt, "pending_answer": event.answer}
                ),
                "transcript": _logged(
                    state, "answer", event.step_id, event.display, event.at, choice=choice
                ),
            }
        case AnswerGraded():
            current = _require_current(state)
            grade = AttemptGrade(
                event.attempt,
                event.score,
                event.available,
                event.max_points,
                event.passed,
                event.items,
            )
            step_changes = {
                "attempts": event.attempt,
                "best_score": max(current.best_score, event.score),
                "pending_attempt": None,
                "pending_answer": None,
                "grades": (*current.grades, grade),
            }
            return {
                "current": _rebuilt(current, step_changes),
                "transcript": _logged(
                    state,
                    "feedback",
                    event.step_id,
                    event.feedback,
                    event.at,
                    source=event.grader,
                    score=event.score,
                    max_points=event.max_points,
                    passed=event.passed,
                    items=event.items,
                    flags=event.flags,
                    provisional=bool(event.trace and event.trace.provisional),
                    available=event.available,
                ),
            }
        case HintRequested():
            return {"current": _current_with(state, {"pending_hint": event.hint_index})}
        case HintGiven():
            current = _require_current(state)
            step_changes = {
                "hints_taken": event.hint_index + 1,
                "hint_cost_points": round(current.hint_cost_points + event.cost_points, 2),
                "pending_hint": None,
            }
            return {
                "current": _rebuilt(current, step_changes),
                "transcript": _logged(
                    state, "hint", event.step_id, event.text, event.at, source=event.source
                ),
            }
        case StepClosed():
            closing = state.current
            if closing is None:
                closed = ClosedStep(event.step_id, event.index, "", event.score, event.passed)
            else:
                closed = ClosedStep(
                    event.step_id,
                    event.index,
                    closing.kind,
                    event.score,
                    event.passed,
                    points=closing.points,
                    attempts=closing.attempts,
                    hints=closing.hints_taken,
                    hint_cost_points=closing.hint_cost_points,
                    grades=closing.grades,
                )
            changes: dict[str, Any] = {
                "closed_steps": (*state.closed_steps, closed),
                "current": None,
                "score": round(state.score + event.score, 2),
                "steps_closed": state.steps_closed + 1,
                "steps_passed": state.steps_passed + (1 if event.passed else 0),
            }
            if event.explanation:
                changes["transcript"] = _logged(
                    state, "explanation", event.step_id, event.explanation, event.at
                )
            return changes
        case SessionCompleted():
            result = Result(event.passed, event.score, event.max_score, event.xp_granted)
            return {"status": Status.COMPLETED, "finished_at": event.at, "result": result}
        case SessionAbandoned():
            return {"status": Status.ABANDONED, "finished_at": event.at}
        case GradeReviewed():
            return _reviewed(state, event)
    raise TypeError(f"evolve does not know {type(event).__name__}")


def fold(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    """Project a stream of events into state, starting from ``state`` (a snapshot) if given."""
    result = state if state is not None else SessionState()
    for event in events:
        result = evolve(result, event)
    return result


def _reviewed(state: SessionState, event: GradeReviewed) -> dict[str, Any]:
    """Apply a review: the attempt's grade, then the step's score and pass (a closed step's record,
    or the open step's best score), the total and the result."""

    def reviewed(grades: tuple[AttemptGrade, ...]) -> tuple[AttemptGrade, ...]:
        return tuple(
            replace(g, score=event.score, passed=event.passed, items=event.items, reviewed=True)
            if g.attempt == event.attempt
            else g
            for g in grades
        )

    steps = []
    passed_before = passed_after = False
    for step in state.closed_steps:
        if step.step_id == event.step_id:
            passed_before, passed_after = step.passed, event.step_passed
            step = replace(
                step, score=event.step_score, passed=event.step_passed, grades=reviewed(step.grades)
            )
        steps.append(step)
    current = state.current
    if current is not None and current.step_id == event.step_id:
        # The step is still open: its best attempt follows the review; attempts left do not change
        # (a review that makes it pass comes with the StepClosed that ends it).
        current = replace(current, best_score=event.step_score, grades=reviewed(current.grades))
    result = state.result
    if result is not None and event.result_passed is not None:
        result = Result(
            event.result_passed, event.session_score, result.max_score, event.xp_granted
        )
    return {
        "closed_steps": tuple(steps),
        "current": current,
        "score": event.session_score,
        "steps_passed": state.steps_passed - int(passed_before) + int(passed_after),
        "result": result,
        "transcript": _logged(
            state,
            "review",
            event.step_id,
            event.comment,
            event.at,
            source="teacher",
            score=event.score,
            max_points=event.max_points,
            passed=event.passed,
            items=event.items,
        ),
    }


def _require_current(state: SessionState) -> StepProgress:
    if state.current is None:
        raise ValueError(f"event at version {state.version + 1} needs a current step")
    return state.current


def _current_with(state: SessionState, changes: dict[str, Any]) -> StepProgress:
    return _rebuilt(_require_current(state), changes)


def _logged(
    state: SessionState, kind: str, step_id: str, text: str, at: str, **fields: Any
) -> tuple[TranscriptEntry, ...]:
    """The transcript with a new entry numbered after the last (only the newest are kept)."""
    seq = (state.transcript[-1].seq if state.transcript else 0) + 1
    entry = TranscriptEntry(kind, step_id, text, at, **fields, seq=seq)
    return (*state.transcript, entry)[-TRANSCRIPT_LIMIT:]


_T = TypeVar("_T")
# class -> its rebuilder (frozen.rebuilder), made on first use
_REBUILDERS: dict[type, Callable[[Any, dict[str, Any]], Any]] = {}


def _rebuilt(value: _T, changes: dict[str, Any]) -> _T:
    """``dataclasses.replace(value, **changes)`` for the state's classes (every field in
    ``__init__``, in order): the same new object, built without ``replace``'s per-call field
    inspection, which was most of the cost of a fold; since session 9 by copying the slots into
    a twin of the class (``core/engine/frozen.py``): the use cases in process 997k → 979k
    instructions per request (``bench_asgi --callgrind --through service``)."""
    kind = type(value)
    rebuild = _REBUILDERS.get(kind)
    if rebuild is None:
        rebuild = _REBUILDERS[kind] = rebuilder(kind)
    rebuilt: _T = rebuild(value, changes)
    return rebuilt


def state_to_dict(state: SessionState) -> dict[str, Any]:
    """Return a JSON-able dict of ``state`` (for snapshots and byte-for-byte comparison), each
    mapping's keys in sorted order (``to_sorted_plain``): the snapshot's encoder
    (``core/service/snapshots.py``) writes keys in the order it finds them, so its text has
    canonical JSON's key order too."""
    data: dict[str, Any] = to_sorted_plain(state)
    return data


def state_from_dict(data: dict[str, Any]) -> SessionState:
    """Inverse of :func:`state_to_dict`."""
    current = data.get("current")
    result = data.get("result")
    closed_steps = tuple(
        ClosedStep(**{**step, "grades": _grades(step.get("grades", ()))})
        for step in data.get("closed_steps", ())
    )
    transcript = tuple(
        TranscriptEntry(
            **{
                **entry,
                "items": tuple(ItemResult(**item) for item in entry.get("items", ())),
                "flags": tuple(entry.get("flags", ())),
                "choice": _tuple_if_list(entry.get("choice")),
            }
        )
        for entry in data.get("transcript", ())
    )
    return SessionState(
        **{
            **data,
            "status": Status(data["status"]),
            "current": None if current is None else StepProgress(**_untuple_answer(current)),
            "result": None if result is None else Result(**result),
            "transcript": transcript,
            "closed_steps": closed_steps,
        }
    )


def _tuple_if_list(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _grades(data: Any) -> tuple[AttemptGrade, ...]:
    return tuple(
        AttemptGrade(**{**g, "items": tuple(ItemResult(**item) for item in g.get("items", ()))})
        for g in data
    )


def _untuple_answer(step: dict[str, Any]) -> dict[str, Any]:
    step = {**step, "grades": _grades(step.get("grades", ()))}
    answer = step.get("pending_answer")
    if isinstance(answer, list):
        return {**step, "pending_answer": tuple(answer)}
    return step
