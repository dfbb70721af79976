"""Discord renders a code step: the starter in a fenced block and how to answer."""

from __future__ import annotations

from bots.discord.render import step_messages
from core.engine.view import project_view
from tests.core.engine.builders import given, on_step
from tests.core.engine.test_code_steps import CH


def test_a_code_step_shows_its_starter_in_a_code_block() -> None:
    view = project_view(CH, given(on_step(CH, 0)))
    description = step_messages(view)[0].embeds[0].description or ""
    assert "```py\ndef f(x=1): ...\n```" in description
    assert "Reply in this thread with your code" in description
