"""Hydrated sessions kept per process: the state a learner's next action is decided on.

The cache is only ever a starting point. A read path folds whatever the log holds after the cached
version before answering; the write path decides on the cached state directly and lets the
append's expected version say whether it was the latest (a stale copy costs a refused append and a
second decision, never a wrong one).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engine import ChallengeSpec, SessionState
from core.engine.frozen import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Loaded:
    """A session's state with the challenge version it is played against."""

    challenge: ChallengeSpec
    state: SessionState


class HydratedSessions:
    """The newest hydrated state per session, at most ``size`` of them (least recently used
    dropped first), and the newest version this process appended to each."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._states: dict[str, Loaded] = {}
        self._written: dict[str, int] = {}

    def get(self, session_id: str) -> Loaded | None:
        return self._states.get(session_id)

    def remember(self, loaded: Loaded, *, written: bool = False) -> Loaded:
        """Keep ``loaded`` unless a newer state of the session is already kept; ``written``: this
        process just appended the events that produced it. Returns ``loaded``."""
        session_id = loaded.state.session_id
        if not session_id:
            return loaded
        known = self._states.pop(session_id, None)
        if known is None or known.state.version <= loaded.state.version:
            known = loaded
        self._states[session_id] = known
        if written:
            self._written[session_id] = max(self._written.get(session_id, 0), loaded.state.version)
        while len(self._states) > self._size:
            dropped = next(iter(self._states))
            self._states.pop(dropped)
            self._written.pop(dropped, None)
        return loaded

    def written_after(self, session_id: str, version: int) -> bool:
        """Whether this process appended to the session past ``version``: a refused append on a
        state of that version then lost a race here, rather than starting from a stale copy."""
        return self._written.get(session_id, 0) > version

    def __len__(self) -> int:
        return len(self._states)
