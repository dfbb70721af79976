"""Sessions: commands in, the session view (with server-rendered, sanitised HTML) out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

ID = Field(min_length=1, max_length=255)

UiMode = Literal[
    "CONTINUE_GATE", "MCQ_SINGLE", "MCQ_MULTI", "TRUE_FALSE", "CHAT", "CODE", "COMPLETED",
    "NOT_STARTED", "ABANDONED",
]  # fmt: skip


class CreateSessionIn(BaseModel):
    challenge_id: str = ID


class StepIn(BaseModel):
    step_id: str = ID


class AnswerIn(BaseModel):
    step_id: str = ID
    answer: StrictBool | StrictInt | list[StrictInt] | StrictStr = Field(
        description=(
            "mcq: a choice index; multi: a list of indices; true_false: true or false; "
            "chat: 1 to 5,000 characters of text; code: the source, up to 20,000 characters"
        ),
        examples=[1, [0, 2], True, "Functions let me reuse code."],
    )


class ViewModel(BaseModel):
    # Fields the core adds to the view later pass through unchanged.
    model_config = ConfigDict(extra="allow")


class ItemResultOut(ViewModel):
    id: str
    points: float
    max_points: int
    feedback: str
    feedback_html: str


class TranscriptEntryOut(ViewModel):
    kind: str = Field(
        description="narration | answer | feedback | hint | explanation | review (by a teacher)"
    )
    step_id: str
    text: str
    html: str = Field(description="The text as sanitised HTML; safe to insert as markup.")
    at: str
    source: str
    score: float | None
    max_points: int | None
    passed: bool | None
    items: list[ItemResultOut]
    flags: list[str]
    provisional: bool
    seq: int = Field(0, description="Position in the whole transcript (1, 2, …); never reused.")


class StepOut(ViewModel):
    id: str
    index: int
    kind: str
    title: str
    body: str | None
    body_html: str | None
    prompt: str | None
    prompt_html: str | None
    choices: list[str]
    choices_html: list[str]
    points: int
    available: float
    attempts_used: int
    attempts_left: int
    hints_left: int
    awaiting_grade: bool
    awaiting_hint: bool


class ProgressOut(ViewModel):
    step_index: int
    total_steps: int
    score: float
    max_score: int


class NextChallengeOut(ViewModel):
    id: str
    title: str
    difficulty: str
    estimated_minutes: int


class ResultOut(ViewModel):
    passed: bool
    score: float
    max_score: int
    percent: float
    xp_granted: int
    passing_score: int
    next_challenge: NextChallengeOut | None = Field(
        None, description="The next challenge this learner has not passed yet, by difficulty."
    )


class SessionViewOut(ViewModel):
    session_id: str
    challenge_id: str
    challenge_version: int
    title: str
    status: str
    ui_mode: UiMode
    step: StepOut | None
    transcript: list[TranscriptEntryOut]
    progress: ProgressOut
    result: ResultOut | None
    version: int
    created_at: str
    updated_at: str


class EventOut(BaseModel):
    version: int
    type: str
    data: dict[str, Any]
    recorded_at: str
