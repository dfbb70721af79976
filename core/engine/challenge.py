"""The engine's view of a challenge: plain frozen dataclasses with every default resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class StepKind(StrEnum):
    GATE = "gate"
    MCQ = "mcq"
    MULTI = "multi"
    TRUE_FALSE = "true_false"
    CHAT = "chat"
    CODE = "code"


DEFAULT_PASS_THRESHOLD = {
    StepKind.GATE: 0,
    StepKind.MCQ: 100,
    StepKind.TRUE_FALSE: 100,
    StepKind.MULTI: 60,
    StepKind.CHAT: 60,
    StepKind.CODE: 100,
}
DEFAULT_MAX_ATTEMPTS = {
    StepKind.GATE: 1,
    StepKind.MCQ: 2,
    StepKind.TRUE_FALSE: 2,
    StepKind.MULTI: 2,
    StepKind.CHAT: 3,
    StepKind.CODE: 5,
}


@dataclass(frozen=True, slots=True)
class ChoiceSpec:
    text: str
    correct: bool
    feedback: str | None = None


@dataclass(frozen=True, slots=True)
class RubricItemSpec:
    id: str
    description: str
    points: int
    concepts: tuple[str, ...] = ()
    misconceptions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CodeTestSpec:
    """One of a code step's tests: an item worth ``points``; hidden tests show pass/fail only."""

    id: str
    points: int
    code: str = ""  # Python: statements (asserts) run against the learner's namespace
    setup: str = ""  # SQL: fixture added for this test; Python: run in the learner's process first
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """What a ``code`` step runs: the language, the starter, the tests and the reference."""

    language: str
    tests: tuple[CodeTestSpec, ...]
    solution: str
    starter: str = ""
    setup: str = ""
    order_matters: bool = False
    time_limit_seconds: float = 2.0
    memory_limit_mb: int = 128


@dataclass(frozen=True, slots=True)
class StepSpec:
    id: str
    kind: StepKind
    title: str
    body: str | None = None
    prompt: str | None = None
    points: int = 0
    pass_threshold: int = 0
    max_attempts: int = 1
    hints: tuple[str, ...] = ()
    max_llm_hints: int = 0
    hint_cost: int = 10
    explanation: str | None = None
    narrate: bool = False
    narration: str | None = None
    choices: tuple[ChoiceSpec, ...] = ()
    answer: bool | None = None
    rubric: tuple[RubricItemSpec, ...] = ()
    reference_answer: str | None = None
    pass_examples: tuple[str, ...] = ()  # a chat step's labelled answers, for its grader
    fail_examples: tuple[str, ...] = ()
    code: CodeSpec | None = None

    @property
    def hints_available(self) -> int:
        return len(self.hints) + self.max_llm_hints

    @property
    def correct_choices(self) -> frozenset[int]:
        return frozenset(i for i, choice in enumerate(self.choices) if choice.correct)


@dataclass(frozen=True, slots=True)
class ChallengeSpec:
    id: str
    version: int
    title: str
    summary: str = ""
    difficulty: str = "beginner"
    tags: tuple[str, ...] = ()
    estimated_minutes: int = 10
    xp: int = 100
    passing_score: int = 70
    tone: str = "encouraging"
    persona: str | None = None
    steps: tuple[StepSpec, ...] = field(default=())
    # The challenge file's ``llm: {provider, model}``: overrides LLM_PROVIDER / LLM_MODEL.
    llm_provider: str | None = None
    llm_model: str | None = None

    @property
    def max_score(self) -> int:
        return sum(step.points for step in self.steps)

    def step(self, index: int) -> StepSpec:
        return self.steps[index]

    def index_of(self, step_id: str) -> int | None:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        return None
