"""Markdown to sanitised HTML: whatever an author, an LLM or a learner writes cannot run script."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from api.rendering import (
    PLAIN_CACHED_LENGTH,
    _short_plain_html,
    inline_html,
    markdown_html,
    plain_html,
)

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href='javascript:alert(1)'>x</a>",
    "<svg onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '![x](https://evil.example/x.png" onerror="alert(1))',
    "```html\n<script>alert(1)</script>\n```",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


class Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


SAFE_TAGS = {"p", "br", "em", "strong", "code", "pre", "span", "a", "del", "s"}


@pytest.mark.parametrize("text", ATTACKS)
def test_nothing_executable_survives(text):
    for html in (markdown_html(text), inline_html(text), plain_html(text)):
        for tag, attrs in Elements(html).found:
            assert tag in SAFE_TAGS, (text, html)
            assert not any(name.startswith("on") or name == "style" for name in attrs), html
            href = (attrs.get("href") or "").strip().lower()
            assert not href or href.startswith(("http://", "https://", "mailto:")), html


def test_markdown_keeps_formatting_links_and_highlighted_code():
    html = markdown_html("A **bold** [link](https://example.com).\n\n```python\nx = 1\n```")
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">link</a>' in html
    assert '<pre class="code"><code class="language-python"><span class="hl-n">x</span>' in html


def test_unknown_languages_are_escaped_not_highlighted():
    html = markdown_html("```nosuchlang\n<b>x</b>\n```")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "hl-" not in html


def test_plain_text_keeps_lines_and_escapes_everything():
    assert plain_html("a < b\nc & d\n\nnext") == "<p>a &lt; b<br>c &amp; d</p><p>next</p>"
    assert plain_html("*not emphasis*") == "<p>*not emphasis*</p>"


def test_long_plain_text_is_rendered_alike_but_not_cached():
    short = "x < y\n" * (PLAIN_CACHED_LENGTH // 6)
    long = short * 4
    assert len(short) <= PLAIN_CACHED_LENGTH < len(long)
    misses = _short_plain_html.cache_info().misses
    assert plain_html(long) == "<p>" + "<br>".join(["x &lt; y"] * (long.count("\n"))) + "<br></p>"
    assert _short_plain_html.cache_info().misses == misses  # nothing this long is kept
    assert plain_html(short) == plain_html(short)
    assert _short_plain_html.cache_info().misses == misses + 1


def test_inline_choices_have_no_paragraphs():
    assert inline_html("`x` or *y*") == "<code>x</code> or <em>y</em>"
