"""Decoding code from chat messages exactly (Slack's entities and fences, Discord's tags)."""

from __future__ import annotations

import pytest

from core.service.chat_code import code_from_chat


@pytest.mark.parametrize(
    ("text", "slack", "code"),
    [
        (
            "```def f(x):\n    return x &lt; 3 &amp;&amp; x &gt; 1```",
            True,
            "def f(x):\n    return x < 3 && x > 1",
        ),
        ("```\nSELECT a FROM t WHERE b &lt;&gt; 'x'\n```", True, "SELECT a FROM t WHERE b <> 'x'"),
        ("```python\ndef f():\n    return '&amp;lt;'\n```", True, "def f():\n    return '&lt;'"),
        (
            "Here you go:\n```py\ndef f():\n    return 1\n```\nthanks",
            False,
            "def f():\n    return 1",
        ),
        ("```sql\nSELECT 1\n```", False, "SELECT 1"),
        ("`SELECT 1`", False, "SELECT 1"),
        ("def f(): return 1", False, "def f(): return 1"),
        ("```x = 1 &lt; 2```", False, "x = 1 &lt; 2"),  # Discord text is never entity-escaped
        ("```\n    indented = True\n```", False, "    indented = True"),
    ],
)
def test_code_is_taken_from_the_first_fenced_block(text: str, slack: bool, code: str) -> None:
    assert code_from_chat(text, slack=slack) == code
