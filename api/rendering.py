"""Server-side rendering: Markdown to sanitised HTML, and the session view as JSON with ``*_html``.

Authored text, narration, hints and feedback are Markdown (raw HTML disabled), code blocks are
highlighted by Pygments into ``hl-*`` classes (styles at ``/highlight.css``), and the result goes
through nh3 with a small allow-list, so whatever an author, an LLM or a learner wrote, the SPA can
insert it without it ever running script. A learner's own answer is shown as plain text.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from typing import Any

import nh3
import pydantic_core
from markdown_it import MarkdownIt
from pydantic import BaseModel, TypeAdapter
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from starlette.responses import Response

from api.schemas.sessions import SessionViewOut
from core.engine.challenge import StepKind
from core.engine.events import ItemResult
from core.engine.memo import BoundedDict, ObjectMemo
from core.engine.state import Status, TranscriptEntry
from core.engine.view import (
    CodeView,
    FeedbackView,
    NextChallengeView,
    OptionFeedback,
    Outcome,
    Progress,
    ResultView,
    SessionView,
    StepResultView,
    StepView,
    UiMode,
    Verdict,
)

CODE_CLASS_PREFIX = "hl-"
_FORMATTER = HtmlFormatter(nowrap=True, classprefix=CODE_CLASS_PREFIX)
_ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "span", "a", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "pre": {"class"},
    "span": {"class"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    attributes=_ALLOWED_ATTRIBUTES,
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)
# Transcript kinds whose text is the learner's own words: shown verbatim, never as Markdown.
PLAIN_TEXT_KINDS = frozenset({"answer", "review"})  # what a learner or reviewer typed


def _highlight(code: str, language: str, _attrs: str) -> str:
    name = language.strip().split()[0] if language.strip() else ""
    try:
        lexer = get_lexer_by_name(name) if name else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, _FORMATTER) if lexer is not None else html.escape(code)
    label = f' class="language-{html.escape(name)}"' if lexer is not None else ""
    return f'<pre class="code"><code{label}>{body}</code></pre>\n'


_MARKDOWN = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": _highlight}
).enable(["table", "strikethrough"])


@lru_cache(maxsize=8192)
def markdown_html(text: str) -> str:
    """Given Markdown, return sanitised HTML (block level)."""
    return _CLEANER.clean(_MARKDOWN.render(text))


@lru_cache(maxsize=8192)
def inline_html(text: str) -> str:
    """Given a line of Markdown (e.g. a choice), return sanitised inline HTML."""
    return _CLEANER.clean(_MARKDOWN.renderInline(text))


# Texts up to this long have their HTML cached: a learner's answers (a choice's text, a short
# reply) come back in every later view of the session, while a cache of anything longer could hold
# 8,192 request bodies.
PLAIN_CACHED_LENGTH = 512


def plain_html(text: str) -> str:
    """Given untrusted plain text, return it escaped, paragraphs and line breaks kept."""
    if len(text) <= PLAIN_CACHED_LENGTH:
        return _short_plain_html(text)
    return _plain_html(text)


@lru_cache(maxsize=8192)
def _short_plain_html(text: str) -> str:
    return _plain_html(text)


def _plain_html(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def highlight_css() -> str:
    """The stylesheet for highlighted code (light, with a dark-scheme variant)."""
    light = _FORMATTER.get_style_defs(".code")
    dark = HtmlFormatter(nowrap=True, classprefix=CODE_CLASS_PREFIX, style="monokai")
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark.get_style_defs('.code')}\n}}\n"


def session_view_model(view: SessionView) -> BaseModel:
    """The session view as its response model (``SessionViewOut``), with sanitised HTML for every
    text in it.

    Pydantic reads the frozen dataclasses directly (``from_attributes``), in one validation,
    instead of a Python walk to plain dicts that are then validated again; the HTML fields are
    filled in after. Each Markdown text is rendered once per process (``markdown_html`` and
    ``inline_html`` are cached), whichever view shows it."""
    model = SessionViewOut.model_validate(view, from_attributes=True)
    step: Any = getattr(model, "step", None)
    if step is not None:
        step.body_html = markdown_html(step.body) if step.body else None
        step.prompt_html = markdown_html(step.prompt) if step.prompt else None
        step.choices_html = [inline_html(choice) for choice in step.choices]
    entry: Any
    for entry in getattr(model, "transcript", ()):
        text = entry.text or ""
        entry.html = plain_html(text) if entry.kind in PLAIN_TEXT_KINDS else markdown_html(text)
        for item in entry.items:
            item.feedback_html = markdown_html(item.feedback or "")
    feedback: Any
    for feedback in getattr(model, "feedback", ()):
        for option in feedback.options:
            option.text_html = inline_html(option.text)
            option.feedback_html = inline_html(option.feedback or "")
    return model


# The engine's view dataclass as pydantic-core serialises it: field by field in Rust, no validation.
_VIEW_DATA = TypeAdapter(SessionView)


def view_json(view: SessionView) -> bytes:
    """The session view as JSON bytes, exactly what ``session_view_model(view).model_dump_json()``
    writes (``tests/api/test_json_responses.py`` compares them, and
    ``tests/api/test_view_bytes.py`` pins them).

    A view is immutable, and a session read after its last write gets the view object that write
    answered with (``project_view``): its bytes are written once (``_VIEW_JSON``)."""
    return _VIEW_JSON.get(view, _view_json)


# The bytes of the latest views, by view object (a long transcript writes tens of kilobytes).
_VIEW_JSON: ObjectMemo[bytes] = ObjectMemo(512)


def _view_json(view: SessionView) -> bytes:
    """:func:`view_json`, written out: by :func:`_write_view` from remembered pieces, or, for a
    view holding a value of another type than its field's (which the engine's typed dataclasses
    do not build), by :func:`_dumped_view_json`, the reference both are tested against."""
    try:
        return _write_view(view)
    except (_Unusual, TypeError):  # (TypeError: an unhashable value where a string goes)
        return _dumped_view_json(view)


def _dumped_view_json(view: SessionView) -> bytes:
    """The session view's JSON through pydantic-core: the reference the writer is tested against.

    The view is the engine's own frozen dataclass: validating it into the response model only to
    serialise it again re-checks what the engine built. pydantic-core dumps the dataclass to
    JSON-ready data (enums as values, tuples as lists, floats as floats, as the model would), the
    ``*_html`` fields are added in the model's order (each dataclass's fields, then its extras),
    and pydantic-core writes the bytes."""
    data: dict[str, Any] = _VIEW_DATA.dump_python(view, mode="json")
    step = data["step"]
    if step is not None:
        step["body_html"] = markdown_html(step["body"]) if step["body"] else None
        step["prompt_html"] = markdown_html(step["prompt"]) if step["prompt"] else None
        step["choices_html"] = [inline_html(choice) for choice in step["choices"]]
    for entry in data["transcript"]:
        text = entry["text"] or ""
        kind = entry["kind"]
        entry["html"] = plain_html(text) if kind in PLAIN_TEXT_KINDS else markdown_html(text)
        for item in entry["items"]:
            item["feedback_html"] = markdown_html(item["feedback"] or "")
    for feedback in data["feedback"]:
        for option in feedback["options"]:
            option["text_html"] = inline_html(option["text"])
            option["feedback_html"] = inline_html(option["feedback"] or "")
    return pydantic_core.to_json(data)


# -- the view written from remembered pieces -------------------------------------------------
#
# Under callgrind, pydantic-core escapes a string at ~21 instructions a byte, and a view is ~5 KB
# of mostly the same texts every time (the step's body and prompt and their HTML, authored
# narration, feedback, ids): writing them again was most of the 185k instructions per request
# the view's bytes cost. The writer below joins each text's JSON, remembered by its value (equal
# strings write equal JSON), with the few numbers and flags that change. Every value is checked
# to be of its field's own type, or written as ``_dumped_view_json`` would (floats outside the
# range where ``repr`` is pydantic-core's text, ints in float fields); anything else falls back
# to ``_dumped_view_json`` for the whole view.


class _Unusual(Exception):
    """A value the writer does not write itself (see :func:`_view_json`)."""


# JSON of strings up to this long is remembered (a cache of longer ones could hold request
# bodies), and of entries whose text is: at most this many of each kind (a full cache starts
# again empty), so ~2,048 x 3 x 2,048 characters of JSON at the very worst per cache.
_REMEMBERED_LENGTH = 2048
_REMEMBERED = 2048
_text_json = pydantic_core.to_json


TextWriter = Callable[[Any], bytes]


def _text_writer(render: Callable[[str], str] | None) -> tuple[BoundedDict[str, bytes], TextWriter]:
    """A cache of texts (exactly ``str``: the only keys put in, so ``1 == True`` cannot alias) to
    the JSON of ``render(text)`` (of the text itself without ``render``), and the function that
    writes through it: at most ``_REMEMBERED`` texts of at most ``_REMEMBERED_LENGTH`` characters,
    and a full cache starts again empty (a :class:`BoundedDict`)."""
    cache: BoundedDict[str, bytes] = BoundedDict(_REMEMBERED)

    def write(text: Any) -> bytes:
        written = cache.get(text)
        if written is not None:
            return written
        if type(text) is not str:
            raise _Unusual
        written = _text_json(text if render is None else render(text))
        return cache.keep(text, written) if len(text) <= _REMEMBERED_LENGTH else written

    return cache, write


# A string field's value, and the HTML of a Markdown, an inline Markdown and a plain text.
_STR_JSON, _s = _text_writer(None)
_MARKDOWN_JSON, _markdown = _text_writer(markdown_html)
_INLINE_JSON, _inline = _text_writer(inline_html)
_PLAIN_JSON, _plain = _text_writer(plain_html)


def _optional_s(text: Any) -> bytes:
    return b"null" if text is None else _s(text)


def _i(number: Any) -> bytes:
    """An int field (a bool is written as pydantic-core writes it there: ``1``, ``0``)."""
    if type(number) is not int:
        raise _Unusual
    return b"%d" % number


def _optional_i(number: Any) -> bytes:
    return b"null" if number is None else _i(number)


def _f(number: Any) -> bytes:
    """A float field: ``repr`` is pydantic-core's text for 0 and 1e-4 <= |x| < 1e16 (tested on a
    sample of random floats, ``test_view_bytes.py``); anything else (an int, NaN, 1e-7) as the
    reference writes it: made a float, then written by pydantic-core."""
    if type(number) is float and (1e-4 <= abs(number) < 1e16 or number == 0.0):
        return repr(number).encode()
    if type(number) is int or type(number) is float:
        return _text_json(float(number))
    raise _Unusual


def _optional_f(number: Any) -> bytes:
    return b"null" if number is None else _f(number)


def _b(flag: Any) -> bytes:
    if flag is True:
        return b"true"
    if flag is False:
        return b"false"
    raise _Unusual


def _optional_b(flag: Any) -> bytes:
    return b"null" if flag is None else _b(flag)


def _strs(texts: Any) -> bytes:
    if type(texts) is not tuple:
        raise _Unusual
    return b"[" + b",".join([_s(text) for text in texts]) + b"]"


def _enum(kind: type[StrEnum]) -> dict[Any, bytes]:
    return {member: _text_json(member.value) for member in kind}


def _member(written: dict[Any, bytes], member: Any) -> bytes:
    if type(member) not in _ENUMS:
        raise _Unusual
    return written[member]


_STATUS = _enum(Status)
_UI_MODE = _enum(UiMode)
_STEP_KIND = _enum(StepKind)
_OUTCOME = _enum(Outcome)
_VERDICT = _enum(Verdict)
_ENUMS = frozenset({Status, UiMode, StepKind, Outcome, Verdict})
# Code steps are rare and their view is small: pydantic-core writes it as the reference does.
_CODE_VIEW = TypeAdapter(CodeView)


# A session's transcript entries, and the explanations of its graded answers (``feedback_views``
# keeps them as long as their step's state), stay the same objects from one view of the session
# to the next: each is written once.
_ENTRY_JSON: ObjectMemo[bytes] = ObjectMemo(_REMEMBERED)
_FEEDBACK_JSON: ObjectMemo[bytes] = ObjectMemo(_REMEMBERED)
# Learners at the same point of a step share its view (``core.engine.view._step_view``).
_STEP_JSON: ObjectMemo[bytes] = ObjectMemo(_REMEMBERED)

_VIEW_TEMPLATE = (
    b'{"session_id":%b,"challenge_id":%b,"challenge_version":%d,"title":%b,"status":%b,'
    b'"ui_mode":%b,"step":%b,"transcript":[%b],"progress":{"step_index":%d,"total_steps":%d,'
    b'"score":%b,"max_score":%d,"score_shown":%d},"result":%b,"version":%d,"created_at":%b,'
    b'"updated_at":%b,"feedback":[%b],"transcript_seq":%d}'
)


def _write_view(view: SessionView) -> bytes:
    if type(view) is not SessionView:
        raise _Unusual
    transcript = view.transcript
    feedback = view.feedback
    progress = view.progress
    step = view.step
    result = view.result
    if (
        type(transcript) is not tuple
        or type(feedback) is not tuple
        or type(progress) is not Progress
        or type(view.challenge_version) is not int
        or type(view.version) is not int
        or type(view.transcript_seq) is not int
        or type(progress.step_index) is not int
        or type(progress.total_steps) is not int
        or type(progress.max_score) is not int
        or type(progress.score_shown) is not int
    ):
        raise _Unusual
    s = _STR_JSON.get
    entry_json = _ENTRY_JSON.get
    feedback_json = _FEEDBACK_JSON.get
    return _VIEW_TEMPLATE % (
        s(view.session_id) or _s(view.session_id),
        s(view.challenge_id) or _s(view.challenge_id),
        view.challenge_version,
        s(view.title) or _s(view.title),
        _member(_STATUS, view.status),
        _member(_UI_MODE, view.ui_mode),
        b"null" if step is None else _STEP_JSON.get(step, _write_step),
        b",".join(
            [
                entry_json(entry, _write_entry)
                if len(entry.text) <= _REMEMBERED_LENGTH
                else _write_entry(entry)
                for entry in transcript
            ]
        ),
        progress.step_index,
        progress.total_steps,
        _f(progress.score),
        progress.max_score,
        progress.score_shown,
        b"null" if result is None else _write_result(result),
        view.version,
        s(view.created_at) or _s(view.created_at),
        s(view.updated_at) or _s(view.updated_at),
        b",".join([feedback_json(item, _write_feedback) for item in feedback]),
        view.transcript_seq,
    )


_STEP_TEMPLATE = (
    b'%b"available":%b,"attempts_used":%d,"attempts_left":%d,"hints_left":%d,'
    b'"awaiting_grade":%b,"awaiting_hint":%b,"available_shown":%d,%b'
)


def _write_step(step: StepView) -> bytes:
    """The step: what its spec gives (id to points, code to the HTML) is the same for every
    learner on it, so those two runs of its JSON are remembered by their values
    (``_STEP_PARTS``); the learner's attempts and points left are written each time."""
    if (
        type(step) is not StepView
        or type(step.index) is not int
        or type(step.points) is not int
        or type(step.attempts_used) is not int
        or type(step.attempts_left) is not int
        or type(step.hints_left) is not int
        or type(step.available_shown) is not int
    ):
        raise _Unusual
    code = step.code
    answer_max_chars = step.answer_max_chars
    if code is not None or (answer_max_chars is not None and type(answer_max_chars) is not int):
        key = None  # (a code step's parts are written each time: rare, and a CodeView's hash costs)
        head, tail = _step_parts(step)
    else:
        key = (
            step.id,
            step.index,
            step.kind,
            step.title,
            step.body,
            step.prompt,
            step.choices,
            step.points,
            answer_max_chars,
        )
        parts = _STEP_PARTS.get(key)
        head, tail = parts if parts is not None else _step_parts(step, key)
    return _STEP_TEMPLATE % (
        head,
        _f(step.available),
        step.attempts_used,
        step.attempts_left,
        step.hints_left,
        _b(step.awaiting_grade),
        _b(step.awaiting_hint),
        step.available_shown,
        tail,
    )


# A step's JSON before and after the learner's part, by (id, index, kind, title, body, prompt,
# choices, points, answer_max_chars): equal values write equal JSON (the ints are checked to be
# ints first, so ``1 == True == 1.0`` cannot alias).
_STEP_PARTS: BoundedDict[tuple[Any, ...], tuple[bytes, bytes]] = BoundedDict(_REMEMBERED)


def _step_parts(step: StepView, key: tuple[Any, ...] | None = None) -> tuple[bytes, bytes]:
    body = step.body
    prompt = step.prompt
    choices = step.choices
    code = step.code
    head = (
        b'{"id":%b,"index":%d,"kind":%b,"title":%b,"body":%b,"prompt":%b,"choices":%b,"points":%d,'
        % (
            _s(step.id),
            step.index,
            _member(_STEP_KIND, step.kind),
            _s(step.title),
            _optional_s(body),
            _optional_s(prompt),
            _strs(choices),
            step.points,
        )
    )
    tail = (
        b'"code":%b,"answer_max_chars":%b,"body_html":%b,"prompt_html":%b,"choices_html":[%b]}'
        % (
            b"null" if code is None else _write_code(code),
            _optional_i(step.answer_max_chars),
            _markdown(body) if body else b"null",
            _markdown(prompt) if prompt else b"null",
            b",".join([_inline(choice) for choice in choices]),
        )
    )
    if key is not None:
        _STEP_PARTS.keep(key, (head, tail))
    return head, tail


def _write_code(code: CodeView) -> bytes:
    if type(code) is not CodeView:
        raise _Unusual
    written: bytes = _text_json(_CODE_VIEW.dump_python(code, mode="json"))
    return written


_ENTRY_TEMPLATE = (
    b'{"kind":%b,"step_id":%b,"text":%b,"at":%b,"source":%b,"score":%b,"max_points":%b,'
    b'"passed":%b,"items":[%b],"flags":%b,"provisional":%b,"choice":%b,"available":%b,'
    b'"seq":%d,"html":%b}'
)


def _write_entry(entry: TranscriptEntry) -> bytes:
    if (
        type(entry) is not TranscriptEntry
        or type(entry.items) is not tuple
        or type(entry.seq) is not int
    ):
        raise _Unusual
    text = entry.text
    s = _STR_JSON.get
    return _ENTRY_TEMPLATE % (
        s(entry.kind) or _s(entry.kind),
        s(entry.step_id) or _s(entry.step_id),
        s(text) or _s(text),
        s(entry.at) or _s(entry.at),
        s(entry.source) or _s(entry.source),
        _optional_f(entry.score),
        _optional_i(entry.max_points),
        _optional_b(entry.passed),
        b",".join([_write_item(item) for item in entry.items]),
        _strs(entry.flags),
        _b(entry.provisional),
        _choice(entry.choice),
        _optional_f(entry.available),
        entry.seq,
        (_PLAIN_JSON.get(text) or _plain(text))
        if entry.kind in PLAIN_TEXT_KINDS
        else (_MARKDOWN_JSON.get(text) or _markdown(text or "")),
    )


def _choice(choice: Any) -> bytes:
    """``int | bool | tuple[int, ...] | None``, as pydantic-core's union writes it."""
    if choice is None:
        return b"null"
    if type(choice) is int:
        return b"%d" % choice
    if type(choice) is bool:
        return b"true" if choice else b"false"
    if type(choice) is tuple and all(type(index) is int for index in choice):
        return b"[" + b",".join([b"%d" % index for index in choice]) + b"]"
    raise _Unusual


def _write_item(item: ItemResult) -> bytes:
    if type(item) is not ItemResult or type(item.max_points) is not int:
        raise _Unusual
    feedback = item.feedback
    s = _STR_JSON.get
    return b'{"id":%b,"points":%b,"max_points":%d,"feedback":%b,"feedback_html":%b}' % (
        s(item.id) or _s(item.id),
        _f(item.points),
        item.max_points,
        s(feedback) or _s(feedback),
        _markdown(feedback or ""),
    )


_RESULT_TEMPLATE = (
    b'{"passed":%b,"score":%b,"max_score":%d,"percent":%b,"xp_granted":%d,"passing_score":%d,'
    b'"score_shown":%d,"percent_shown":%d,"steps":[%b],"next_challenge":%b}'
)


def _write_result(result: ResultView) -> bytes:
    if (
        type(result) is not ResultView
        or type(result.steps) is not tuple
        or type(result.max_score) is not int
        or type(result.xp_granted) is not int
        or type(result.passing_score) is not int
        or type(result.score_shown) is not int
        or type(result.percent_shown) is not int
    ):
        raise _Unusual
    suggested = result.next_challenge
    return _RESULT_TEMPLATE % (
        _b(result.passed),
        _f(result.score),
        result.max_score,
        _f(result.percent),
        result.xp_granted,
        result.passing_score,
        result.score_shown,
        result.percent_shown,
        b",".join([_write_step_result(row) for row in result.steps]),
        b"null" if suggested is None else _write_next(suggested),
    )


_STEP_RESULT_TEMPLATE = (
    b'{"step_id":%b,"index":%d,"title":%b,"kind":%b,"score":%b,"score_shown":%d,"points":%d,'
    b'"passed":%b,"attempts":%d,"hints":%d,"hint_deduction_shown":%d}'
)


def _write_step_result(row: StepResultView) -> bytes:
    if (
        type(row) is not StepResultView
        or type(row.index) is not int
        or type(row.score_shown) is not int
        or type(row.points) is not int
        or type(row.attempts) is not int
        or type(row.hints) is not int
        or type(row.hint_deduction_shown) is not int
    ):
        raise _Unusual
    kind = row.kind
    s = _STR_JSON.get
    return _STEP_RESULT_TEMPLATE % (
        s(row.step_id) or _s(row.step_id),
        row.index,
        s(row.title) or _s(row.title),
        b"null" if kind is None else _member(_STEP_KIND, kind),
        _f(row.score),
        row.score_shown,
        row.points,
        _b(row.passed),
        row.attempts,
        row.hints,
        row.hint_deduction_shown,
    )


def _write_next(suggested: NextChallengeView) -> bytes:
    if type(suggested) is not NextChallengeView or type(suggested.estimated_minutes) is not int:
        raise _Unusual
    s = _STR_JSON.get
    return b'{"id":%b,"title":%b,"difficulty":%b,"estimated_minutes":%d}' % (
        s(suggested.id) or _s(suggested.id),
        s(suggested.title) or _s(suggested.title),
        s(suggested.difficulty) or _s(suggested.difficulty),
        suggested.estimated_minutes,
    )


_FEEDBACK_TEMPLATE = (
    b'{"step_id":%b,"attempt_at":%b,"outcome":%b,"score_shown":%d,"max_points":%d,'
    b'"earned_shown":%d,"hint_deduction_shown":%d,"options":[%b],"missed_hidden":%d}'
)


def _write_feedback(feedback: FeedbackView) -> bytes:
    if (
        type(feedback) is not FeedbackView
        or type(feedback.options) is not tuple
        or type(feedback.score_shown) is not int
        or type(feedback.max_points) is not int
        or type(feedback.earned_shown) is not int
        or type(feedback.hint_deduction_shown) is not int
        or type(feedback.missed_hidden) is not int
    ):
        raise _Unusual
    s = _STR_JSON.get
    return _FEEDBACK_TEMPLATE % (
        s(feedback.step_id) or _s(feedback.step_id),
        s(feedback.attempt_at) or _s(feedback.attempt_at),
        _member(_OUTCOME, feedback.outcome),
        feedback.score_shown,
        feedback.max_points,
        feedback.earned_shown,
        feedback.hint_deduction_shown,
        _OPTIONS_JSON.get(feedback.options, _write_options),
        feedback.missed_hidden,
    )


def _write_options(options: tuple[OptionFeedback, ...]) -> bytes:
    return b",".join([_write_option(option) for option in options])


# The options of a graded choice are shared by every answer that picked the same set
# (``core.engine.view._graded_choices``): written once.
_OPTIONS_JSON: ObjectMemo[bytes] = ObjectMemo(_REMEMBERED)


def _write_option(option: OptionFeedback) -> bytes:
    if type(option) is not OptionFeedback or type(option.index) is not int:
        raise _Unusual
    text = option.text
    feedback = option.feedback
    s = _STR_JSON.get
    return (
        b'{"index":%d,"text":%b,"chosen":%b,"verdict":%b,"feedback":%b,"text_html":%b,'
        b'"feedback_html":%b}'
        % (
            option.index,
            s(text) or _s(text),
            _b(option.chosen),
            _member(_VERDICT, option.verdict),
            b"null" if feedback is None else s(feedback) or _s(feedback),
            _inline(text),
            _inline(feedback or ""),
        )
    )


def render_view(view: SessionView) -> dict[str, Any]:
    """The session view as JSON-able data (what ``view_to_dict`` gives) plus its ``*_html``."""
    data: dict[str, Any] = session_view_model(view).model_dump(mode="json")
    return data


class JsonBytesResponse(Response):
    """A response of ready JSON bytes with a status that has a body (200, 201): the headers
    Starlette's ``Response`` gives it (``content-length``, then ``content-type:
    application/json``), set directly rather than worked out from the arguments every time."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]


def view_response(view: SessionView, status_code: int = 200) -> Response:
    """The session view as a JSON response (``view_json``; the route's ``response_model``
    documents it, and FastAPI passes a ready response through unvalidated)."""
    return JsonBytesResponse(view_json(view), status_code)
