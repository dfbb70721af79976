"""Rebuilding the read models from the events and comparing them with what is stored: the session
index (``session_index``) and the XP ledger (``xp_grants``). Part of ``db verify``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

from core.engine.events import GradeReviewed, SessionCompleted, decode
from core.engine.state import SessionState
from core.service.sessions import session_summary
from core.store.base import SessionSummary, Store, StoredEvent, XpGrant


@dataclass(slots=True)
class ReadModelCheck:
    """Folds each replayed session into the rows the read models should hold."""

    summaries: dict[str, SessionSummary] = field(default_factory=dict)
    # (learner, challenge) -> (position, the grant its SessionCompleted event made)
    grants: dict[tuple[str, str], tuple[int, XpGrant]] = field(default_factory=dict)
    claims: list[tuple[int, XpGrant]] = field(default_factory=list)

    def add(self, state: SessionState, stored: Sequence[StoredEvent]) -> None:
        """Record what one replayed session contributes."""
        if not state.session_id:
            return
        self.summaries[state.session_id] = session_summary(state)
        claim: tuple[int, XpGrant] | None = None
        for event in stored:
            if event.type not in (SessionCompleted.NAME, GradeReviewed.NAME):
                continue
            decoded = decode(event.type, event.schema_version, event.data)
            if isinstance(decoded, SessionCompleted) and decoded.xp_granted > 0:
                claim = (event.position, self._grant(state, decoded.xp_granted, decoded.at))
            elif isinstance(decoded, GradeReviewed) and decoded.xp_change != 0:
                # A review re-sizes the grant this session holds, removes it, or makes a new claim.
                if claim is not None and decoded.xp_granted > 0:
                    claim = (claim[0], replace(claim[1], xp=decoded.xp_granted))
                elif claim is not None:
                    claim = None
                else:
                    claim = (event.position, self._grant(state, decoded.xp_granted, decoded.at))
        if claim is None:
            return
        self.claims.append(claim)
        key = (claim[1].learner_id, claim[1].challenge_id)
        if key not in self.grants or claim[0] < self.grants[key][0]:
            self.grants[key] = claim

    @staticmethod
    def _grant(state: SessionState, xp: int, at: str) -> XpGrant:
        return XpGrant(state.learner_id, state.challenge_id, state.session_id, xp, at)

    async def compare(self, store: Store, streams: set[str]) -> list[tuple[str, str]]:
        """Return ``(where, problem)`` for every stored row that differs from the rebuilt one."""
        problems: list[tuple[str, str]] = []
        stored_summaries = {s.session_id: s for s in await store.all_session_summaries()}
        for session_id, row in sorted(stored_summaries.items()):
            expected = self.summaries.get(session_id)
            if expected is None:
                if session_id not in streams:
                    problems.append(
                        (session_id, "session_index has a row for a session with no events")
                    )
                continue
            changed = _changed_fields(asdict(expected), asdict(row))
            if changed:
                problems.append(
                    (
                        session_id,
                        f"session_index differs from replay in {', '.join(changed)}",
                    )
                )
        for session_id in sorted(set(self.summaries) - set(stored_summaries)):
            problems.append((session_id, "session_index has no row for this session"))
        ledger = {(g.learner_id, g.challenge_id): g for g in await store.all_xp_grants()}
        for key, grant in sorted(ledger.items()):
            where = f"xp_grants {grant.learner_id}/{grant.challenge_id}"
            rebuilt = self.grants.get(key)
            if rebuilt is None:
                problems.append((where, "a grant that no SessionCompleted event made"))
                continue
            changed = _changed_fields(asdict(rebuilt[1]), asdict(grant))
            if changed:
                problems.append((where, f"differs from the events in {', '.join(changed)}"))
        for learner_id, challenge_id in sorted(set(self.grants) - set(ledger)):
            problems.append(
                (
                    f"xp_grants {learner_id}/{challenge_id}",
                    f"missing: session {self.grants[(learner_id, challenge_id)][1].session_id} "
                    "completed with XP granted",
                )
            )
        for _position, claim in sorted(self.claims, key=lambda c: c[0]):
            winner = self.grants[(claim.learner_id, claim.challenge_id)][1]
            if claim.session_id != winner.session_id:
                problems.append(
                    (
                        claim.session_id,
                        f"SessionCompleted claims {claim.xp} XP for {claim.challenge_id!r}, "
                        f"already granted by session {winner.session_id}",
                    )
                )
        return problems


def _changed_fields(expected: dict[str, object], actual: dict[str, object]) -> list[str]:
    return [name for name in expected if expected[name] != actual.get(name)]
