"""A challenge with one Python code step, shared by the Discord and Slack code-answer tests."""

from __future__ import annotations

from typing import Any

from core.bootstrap import Services
from core.content import ChallengeFile
from tests.api.test_code_steps import CHALLENGE

CODE_CHALLENGE: dict[str, Any] = CHALLENGE  # the API tests' one-step Python challenge

# Right only if the learner's text reaches the sandbox exactly: "<", ">" and "&" decoded once, the
# fence and its language tag gone, indentation kept.
RIGHT = (
    "def square(x):\n    if x < 0 and x > -10 & 15:\n        return (-x) * (-x)\n    return x * x"
)
# Passes the visible test, fails the hidden one (whose code is never shown).
HALF = "def square(x):\n    print('squaring', x)\n    return 9 if x == 3 else 0"


async def publish_code_challenge(services: Services) -> None:
    await services.catalog.publish(
        ChallengeFile.model_validate(CODE_CHALLENGE), at=services.clock.now()
    )
