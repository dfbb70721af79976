"""Events: past-tense facts, stored under stable names with a schema version.

Each event carries everything replay needs (scores, rubric item points, who graded, model, prompt
hash, tokens, cost, the time it happened), so a fold over events never re-grades and never reads
the clock. Old shapes are brought forward by small named upcasters before decoding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from core.engine.frozen import quick_init
from core.engine.plain import to_plain

Answer = int | bool | str | tuple[int, ...]


@quick_init
@dataclass(frozen=True, slots=True)
class LlmTrace:
    """Who produced an LLM-backed outcome, and at what cost."""

    provider: str
    model: str
    prompt_hash: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    provisional: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class ItemResult:
    """Points earned on one rubric item, with learner-facing feedback."""

    id: str
    points: float
    max_points: int
    feedback: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class CodeRunTrace:
    """How a code answer was run: the sandbox, how the run ended and how long it took."""

    sandbox: str
    status: str
    duration_ms: int
    language: str = "python"


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    NAME: ClassVar[str] = ""
    SCHEMA_VERSION: ClassVar[int] = 1
    at: str


@quick_init
@dataclass(frozen=True, slots=True)
class SessionCreated(Event):
    NAME: ClassVar[str] = "SessionCreated"
    session_id: str
    learner_id: str
    challenge_id: str
    challenge_version: int
    title: str
    total_steps: int
    max_score: int
    passing_score: int
    xp: int


@quick_init
@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    NAME: ClassVar[str] = "SessionStarted"


@quick_init
@dataclass(frozen=True, slots=True)
class StepEntered(Event):
    NAME: ClassVar[str] = "StepEntered"
    step_id: str
    index: int
    kind: str
    points: int
    max_attempts: int
    hints_available: int
    narrate: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class StepNarrated(Event):
    NAME: ClassVar[str] = "StepNarrated"
    step_id: str
    text: str
    source: str
    trace: LlmTrace | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class AnswerSubmitted(Event):
    NAME: ClassVar[str] = "AnswerSubmitted"
    step_id: str
    attempt: int
    answer: Answer
    display: str


@quick_init
@dataclass(frozen=True, slots=True)
class AnswerGraded(Event):
    NAME: ClassVar[str] = "AnswerGraded"
    step_id: str
    attempt: int
    score: float
    max_points: int
    available: float
    passed: bool
    feedback: str
    grader: str
    items: tuple[ItemResult, ...] = ()
    rationale: str = ""
    flags: tuple[str, ...] = ()
    trace: LlmTrace | None = None
    confidence: float | None = None  # the grader's, 0–1; None for rule-graded steps and old events
    needs_review: bool = False
    code_run: CodeRunTrace | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class HintRequested(Event):
    NAME: ClassVar[str] = "HintRequested"
    step_id: str
    hint_index: int


@quick_init
@dataclass(frozen=True, slots=True)
class HintGiven(Event):
    NAME: ClassVar[str] = "HintGiven"
    step_id: str
    hint_index: int
    text: str
    source: str
    cost_points: float
    trace: LlmTrace | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class StepClosed(Event):
    NAME: ClassVar[str] = "StepClosed"
    step_id: str
    index: int
    score: float
    passed: bool
    explanation: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class SessionCompleted(Event):
    NAME: ClassVar[str] = "SessionCompleted"
    score: float
    max_score: int
    passed: bool
    xp_granted: int


@quick_init
@dataclass(frozen=True, slots=True)
class SessionAbandoned(Event):
    NAME: ClassVar[str] = "SessionAbandoned"


@quick_init
@dataclass(frozen=True, slots=True)
class GradeReviewed(Event):
    """A person's verdict on a graded chat attempt, and what it changed (issue 14).

    ``score``/``passed`` are the attempt's after review; ``step_score``/``step_passed`` the step's;
    ``session_score`` the session total; ``result_passed`` and ``xp_granted`` the result's when the
    session is complete (None and 0 otherwise); ``xp_change`` the adjustment to the XP ledger.
    """

    NAME: ClassVar[str] = "GradeReviewed"
    step_id: str
    attempt: int
    score: float
    max_points: int
    passed: bool
    previous_score: float
    previous_passed: bool
    step_score: float
    step_passed: bool
    session_score: float
    items: tuple[ItemResult, ...] = ()
    comment: str = ""
    result_passed: bool | None = None
    xp_granted: int = 0
    xp_change: int = 0


EVENT_TYPES: dict[str, type[Event]] = {
    cls.NAME: cls
    for cls in (
        SessionCreated,
        SessionStarted,
        StepEntered,
        StepNarrated,
        AnswerSubmitted,
        AnswerGraded,
        HintRequested,
        HintGiven,
        StepClosed,
        SessionCompleted,
        SessionAbandoned,
        GradeReviewed,
    )
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (event name, schema version it upgrades from) -> function producing the next version's data.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEvent(ValueError):
    """An event name or schema version this code cannot read."""


def encode(event: Event) -> dict[str, Any]:
    """Return the event's JSON-able data (without its name)."""
    data: dict[str, Any] = to_plain(event)
    return data


def decode(name: str, schema_version: int, data: dict[str, Any]) -> Event:
    """Return the event stored under ``name`` at ``schema_version``, upcasting old shapes first."""
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise UnknownEvent(f"unknown event type {name!r}")
    if schema_version > cls.SCHEMA_VERSION:
        raise UnknownEvent(f"{name} schema version {schema_version} is newer than this code")
    version = schema_version
    while version < cls.SCHEMA_VERSION:
        upcaster = UPCASTERS.get((name, version))
        if upcaster is None:
            raise UnknownEvent(f"no upcaster for {name} from schema version {version}")
        data = upcaster(data)
        version += 1
    kwargs: dict[str, Any] = {}
    try:
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            kwargs[f.name] = _from_json(f.name, data[f.name])
        return cls(**kwargs)
    except (TypeError, KeyError) as error:
        raise UnknownEvent(f"{name} data does not match its schema: {error}") from error


def _from_json(name: str, value: Any) -> Any:
    if name == "items":
        return tuple(ItemResult(**item) for item in value)
    if name == "trace":
        return None if value is None else LlmTrace(**value)
    if name == "code_run":
        return None if value is None else CodeRunTrace(**value)
    if isinstance(value, list):
        return tuple(value)
    return value


__all__ = [
    "EVENT_TYPES",
    "AnswerGraded",
    "AnswerSubmitted",
    "CodeRunTrace",
    "Event",
    "GradeReviewed",
    "HintGiven",
    "HintRequested",
    "ItemResult",
    "LlmTrace",
    "SessionAbandoned",
    "SessionCompleted",
    "SessionCreated",
    "SessionStarted",
    "StepClosed",
    "StepEntered",
    "StepNarrated",
    "UnknownEvent",
    "decode",
    "encode",
]
