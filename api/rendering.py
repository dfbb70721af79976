"""Server-side rendering: Markdown to sanitised HTML, and the session view as JSON with ``*_html``.

Authored text, narration, hints and feedback are Markdown (raw HTML disabled), code blocks are
highlighted by Pygments into ``hl-*`` classes (styles at ``/highlight.css``), and the result goes
through nh3 with a small allow-list, so whatever an author, an LLM or a learner wrote, the SPA can
insert it without it ever running script. A learner's own answer is shown as plain text.
"""

from __future__ import annotations

import html
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
from core.engine.memo import IdentityMemo
from core.engine.view import SessionView

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
    writes (``tests/api/test_json_responses.py`` compares them), at half the cost.

    A view is immutable, and a session read after its last write gets the view object that write
    answered with (``project_view``): its bytes are written once (``_VIEW_JSON``)."""
    return _VIEW_JSON.get((view,), _view_json)


# The bytes of the latest views, by view object (a long transcript writes tens of kilobytes).
_VIEW_JSON: IdentityMemo[bytes] = IdentityMemo(512)


def _view_json(view: SessionView) -> bytes:
    """:func:`view_json`, written out.

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
