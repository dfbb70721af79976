"""A challenge with one Python code step, shared by the Discord and Slack code-answer tests."""

from __future__ import annotations

from typing import Any

from core.bootstrap import Services
from core.content import ChallengeFile

CODE_CHALLENGE: dict[str, Any] = {
    "id": "codey",
    "title": "Code",
    "steps": [
        {
            "id": "square",
            "type": "code",
            "language": "python",
            "title": "Square",
            "prompt": "Write `square(x)`.",
            "points": 20,
            "starter": "def square(x):\n    pass",
            "solution": "def square(x):\n    return x * x",
            "tests": [
                {"id": "three", "points": 10, "code": "assert square(3) == 9, 'square(3) is 9'"},
                {"id": "secret", "points": 10, "code": "assert square(-2) == 4", "hidden": True},
            ],
        }
    ],
}

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
