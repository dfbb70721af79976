"""What the LLM is told about a session: who it is for, the challenge's provider choice, and a
bounded summary of the learner's progress (never the whole transcript)."""

from __future__ import annotations

from core.engine import ChallengeSpec, SessionState
from core.llm.orchestrator import LlmContext

MAX_SUMMARY = 400


def llm_context(challenge: ChallengeSpec, state: SessionState) -> LlmContext:
    """The orchestration context of a task for this session."""
    return LlmContext(
        learner_id=state.learner_id or None,
        session_id=state.session_id or None,
        provider=challenge.llm_provider,
        model=challenge.llm_model,
    )


def progress_summary(challenge: ChallengeSpec, state: SessionState) -> str:
    """A short, bounded account of where the learner stands, for narration."""
    current = state.current
    index = current.index if current is not None else state.steps_closed
    parts = [
        f"Step {index + 1} of {state.total_steps}",
        f"score so far {state.score:g} of {state.max_score}",
        f"steps passed {state.steps_passed} of {state.steps_closed} closed",
    ]
    if state.steps_closed and index > 0:
        previous = challenge.steps[min(index, len(challenge.steps)) - 1]
        outcome = next(
            (
                entry.passed
                for entry in reversed(state.transcript)
                if entry.step_id == previous.id and entry.passed is not None
            ),
            None,
        )
        if outcome is not None:
            parts.append(f"last step '{previous.title}' {'passed' if outcome else 'not passed'}")
    summary = "; ".join(parts) + "."
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…"
