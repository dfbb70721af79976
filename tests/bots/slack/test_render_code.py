"""Slack renders a code step: the starter in a code block, visible tests, the reply hint."""

from __future__ import annotations

import json

from bots.slack import render
from core.engine.view import project_view
from tests.core.engine.builders import given, on_step
from tests.core.engine.test_code_steps import CH


def test_a_code_step_shows_its_starter_tests_and_how_to_answer() -> None:
    view = project_view(CH, given(on_step(CH, 0)))
    text = json.dumps(render.step_blocks(view))
    assert "```def f(x=1): ...```" in text
    assert "assert f() == 1" in text and "1 hidden test" in text
    assert "assert f(2) == 2" not in text  # hidden test code never shown
    assert "Reply in this thread with your code" in text
