"""The Game Master engine: pure, deterministic rules over events (standard library only)."""

from core.engine.challenge import ChallengeSpec, ChoiceSpec, RubricItemSpec, StepKind, StepSpec
from core.engine.decide import decide, run
from core.engine.state import SessionState, Status, evolve, fold
from core.engine.view import SessionView, UiMode, project_view

__all__ = [
    "ChallengeSpec",
    "ChoiceSpec",
    "RubricItemSpec",
    "SessionState",
    "SessionView",
    "Status",
    "StepKind",
    "StepSpec",
    "UiMode",
    "decide",
    "evolve",
    "fold",
    "project_view",
    "run",
]
