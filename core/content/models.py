"""The challenge file format (PRODUCT §3) as pydantic models.

The same models validate `challenges/*.yaml`, generate `challenges/schema.json` and are converted into
the engine's plain dataclasses by :mod:`core.content.convert`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=64)]
Percent = Annotated[int, Field(ge=0, le=100)]


class _Strict(BaseModel):
    # strict: "20" is not a number, as "true" is not a boolean (YAML quotes make text)
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, strict=True)


class Choice(_Strict):
    text: str = Field(min_length=1)
    correct: StrictBool = False
    feedback: str | None = None


class RubricItem(_Strict):
    id: Slug
    description: str = Field(min_length=1)
    points: int = Field(ge=1)
    concepts: list[str] = Field(default_factory=list)
    # Statements a wrong-but-right-sounding answer asserts ("print returns the value"): an answer
    # that asserts one earns nothing on this item, and its feedback names the misconception.
    misconceptions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _misconceptions_are_statements(self) -> RubricItem:
        seen: set[str] = set()
        for index, statement in enumerate(self.misconceptions):
            if len(statement.split()) < 2 or len(statement) > 200:
                raise ValueError(
                    f"misconceptions[{index}]: {statement[:60]!r} must be a short statement of "
                    "2 or more words (at most 200 characters), e.g. 'print returns the value'"
                )
            if statement.lower() in seen:
                raise ValueError(f"misconceptions[{index}]: {statement[:60]!r} is listed twice")
            seen.add(statement.lower())
            if statement.lower() in (concept.lower() for concept in self.concepts):
                raise ValueError(
                    f"misconceptions[{index}]: {statement[:60]!r} is also one of the item's "
                    "concepts; an answer cannot both earn and lose the item for it"
                )
        return self


class Example(_Strict):
    answer: str = Field(min_length=1, max_length=5000)
    expect: Literal["pass", "fail"]


class Narrator(_Strict):
    tone: str = "encouraging"
    persona: str | None = None


class LlmChoice(_Strict):
    provider: Literal["offline", "anthropic", "openai", "gemini"] | None = None
    model: str | None = None


class _StepBase(_Strict):
    id: Slug
    title: str = Field(min_length=1)
    body: str | None = None
    narrate: StrictBool = False
    narration: str | None = None
    hints: list[str] = Field(default_factory=list)
    explanation: str | None = None
    hint_cost: Percent = 10
    max_llm_hints: int = Field(default=1, ge=0, le=5)


class GateStep(_StepBase):
    type: Literal["gate"]
    prompt: str | None = None
    points: Literal[0] = 0


class _ScoredStep(_StepBase):
    prompt: str = Field(min_length=1)
    points: int = Field(ge=1, le=1000)
    pass_threshold: Percent | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=10)


class McqStep(_ScoredStep):
    type: Literal["mcq"]
    choices: list[Choice] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _exactly_one_correct(self) -> McqStep:
        correct = sum(choice.correct for choice in self.choices)
        if correct != 1:
            raise ValueError(
                f"choices: an mcq step needs exactly one correct choice, found {correct}"
            )
        return self


class MultiStep(_ScoredStep):
    type: Literal["multi"]
    choices: list[Choice] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _some_correct(self) -> MultiStep:
        if not any(choice.correct for choice in self.choices):
            raise ValueError("choices: a multi step needs at least one correct choice")
        return self


class TrueFalseStep(_ScoredStep):
    type: Literal["true_false"]
    answer: StrictBool


class ChatStep(_ScoredStep):
    type: Literal["chat"]
    rubric: list[RubricItem] = Field(min_length=1)
    reference_answer: str | None = None
    examples: list[Example] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rubric_adds_up(self) -> ChatStep:
        ids = [item.id for item in self.rubric]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rubric: duplicate rubric item id(s) {', '.join(duplicates)}")
        total = sum(item.points for item in self.rubric)
        if total != self.points:
            raise ValueError(
                f"rubric: rubric points sum to {total} but the step is worth {self.points} points"
            )
        return self


class CodeTest(_Strict):
    """A test of a code step, worth ``points``; a hidden test shows the learner pass/fail only."""

    id: Slug
    points: int = Field(ge=1)
    code: str | None = Field(default=None, description="Python: statements (asserts) to run")
    setup: str | None = Field(
        default=None,
        description="SQL: fixture added for this test; Python: code run in the learner's process "
        "after their code, before this test (e.g. to swap in a broken helper)",
    )
    hidden: StrictBool = False


class CodeExample(_Strict):
    answer: str = Field(min_length=1, max_length=20000)
    expect: Literal["pass", "fail"]


class CodeStep(_ScoredStep):
    """Learners write Python or SQL; the author's tests run in a sandbox (see README)."""

    type: Literal["code"]
    language: Literal["python", "sql"]
    starter: str = ""
    tests: list[CodeTest] = Field(default_factory=list)
    solution: str = Field(min_length=1)
    setup: str | None = None
    order_matters: StrictBool = False
    time_limit_seconds: float = Field(default=2, gt=0, le=10)
    memory_limit_mb: int = Field(default=128, ge=32, le=512)
    examples: list[CodeExample] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tests_fit_the_language(self) -> CodeStep:
        ids = [test.id for test in self.tests]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"tests: duplicate test id(s) {', '.join(duplicates)}")
        if self.language == "python":
            if not self.tests:
                raise ValueError("tests: a python code step needs at least one test")
            missing = [t.id for t in self.tests if not t.code]
            if missing:
                raise ValueError(f"tests: python test(s) {', '.join(missing)} need code")
            if self.setup:
                raise ValueError(
                    "setup: only sql code steps take a step setup (tests may have one)"
                )
        else:
            if not self.setup:
                raise ValueError("setup: a sql code step needs setup (SQL that builds the fixture)")
            if any(t.code for t in self.tests):
                raise ValueError("tests: sql tests take an optional setup, not code")
        if self.tests:
            total = sum(test.points for test in self.tests)
            if total != self.points:
                raise ValueError(
                    f"tests: test points sum to {total} but the step is worth {self.points} points"
                )
        return self


Step = Annotated[
    GateStep | McqStep | MultiStep | TrueFalseStep | ChatStep | CodeStep,
    Field(discriminator="type"),
]


class ChallengeFile(_Strict):
    """A whole challenge file. ``id`` is a stable slug that matches the file name."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        strict=True,
        json_schema_extra={"title": "CuriousCore challenge"},
    )

    id: Slug
    version: int = Field(default=1, ge=1)
    title: str = Field(min_length=1)
    summary: str = ""
    difficulty: Literal["beginner", "intermediate", "advanced", "expert"] = "beginner"
    tags: list[str] = Field(default_factory=list)
    estimated_minutes: int = Field(default=10, ge=1, le=600)
    xp: int = Field(default=100, ge=0)
    passing_score: Percent = 70
    narrator: Narrator = Field(default_factory=Narrator)
    llm: LlmChoice | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_step_ids(self) -> ChallengeFile:
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"steps: duplicate step id(s) {', '.join(duplicates)}")
        return self
