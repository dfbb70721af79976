"""Sessions: commands in, the session view (with server-rendered, sanitised HTML) out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr

from api.schemas.from_core import ModelFactory
from core.engine.events import ItemResult
from core.engine.state import TranscriptEntry
from core.engine.view import (
    CodeTestView,
    CodeView,
    OptionFeedback,
    ResultView,
    SessionView,
    StepView,
)

ID = Field(min_length=1, max_length=255)


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


# The session view: generated from core.engine.view (the one definition), plus the HTML the API adds.
_HTML = "sanitised HTML rendered on the server; safe to insert as markup"
_VIEWS = ModelFactory(
    names={SessionView: "SessionViewOut", CodeView: "StepCodeOut", CodeTestView: "StepCodeTestOut"},
    extras={
        StepView: {
            "body_html": (str | None, None, f"The body as {_HTML}."),
            "prompt_html": (str | None, None, f"The prompt as {_HTML}."),
            "choices_html": (list[str], [], f"Each choice as {_HTML} (inline)."),
        },
        TranscriptEntry: {"html": (str, "", f"The text as {_HTML}.")},
        ItemResult: {"feedback_html": (str, "", f"The feedback as {_HTML}.")},
        OptionFeedback: {
            "text_html": (str, "", f"The choice as {_HTML} (inline)."),
            "feedback_html": (str, "", f"The choice's feedback as {_HTML} (inline)."),
        },
    },
    descriptions={
        TranscriptEntry: {
            "kind": "narration | answer | feedback | hint | explanation | review (by a teacher)",
            "seq": "Position in the whole transcript (1, 2, …); never reused.",
        },
        StepView: {
            "answer_max_chars": "The longest answer the step takes, in characters (chat, code).",
        },
        ResultView: {
            "next_challenge": "The next challenge this learner has not passed yet, by difficulty.",
        },
    },
)
SessionViewOut = _VIEWS.model_of(SessionView)
StepOut = _VIEWS.model_of(StepView)
TranscriptEntryOut = _VIEWS.model_of(TranscriptEntry)
ResultOut = _VIEWS.model_of(ResultView)


class EventOut(BaseModel):
    version: int
    type: str
    data: dict[str, Any]
    recorded_at: str
