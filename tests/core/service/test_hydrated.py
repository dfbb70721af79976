"""The per-process cache of hydrated sessions: newest state kept, bounded, own appends marked."""

from __future__ import annotations

from core.engine import ChallengeSpec, SessionState
from core.service.hydrated import HydratedSessions, Loaded

CHALLENGE = ChallengeSpec(id="c", version=1, title="C")


def loaded(session_id: str, version: int) -> Loaded:
    return Loaded(CHALLENGE, SessionState(session_id=session_id, version=version))


def test_an_older_state_never_replaces_a_newer_one():
    cache = HydratedSessions(8)
    newer = loaded("s", 7)
    cache.remember(newer)
    cache.remember(loaded("s", 5))
    assert cache.get("s") is newer


def test_the_least_recently_used_session_is_dropped_with_its_append_mark():
    cache = HydratedSessions(2)
    cache.remember(loaded("a", 3), written=True)
    cache.remember(loaded("b", 1))
    cache.remember(loaded("a", 3))  # used again: "b" is now the oldest
    cache.remember(loaded("c", 1))
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 2
    cache.remember(loaded("d", 1))
    cache.remember(loaded("e", 1))
    assert cache.get("a") is None
    assert not cache.written_after("a", 0)


def test_only_appends_made_here_count_as_written():
    cache = HydratedSessions(8)
    cache.remember(loaded("s", 4))  # read from the log: not ours
    assert not cache.written_after("s", 2)
    cache.remember(loaded("s", 6), written=True)
    assert cache.written_after("s", 4) and not cache.written_after("s", 6)


def test_a_state_without_a_session_is_not_kept():
    cache = HydratedSessions(8)
    cache.remember(loaded("", 0))
    assert len(cache) == 0
