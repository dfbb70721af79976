"""Checking the event log: the hash chain, sequence gaps, unreadable events, and snapshots that
disagree with replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from core.engine.events import Event, UnknownEvent, decode
from core.engine.state import STATE_SCHEMA_VERSION, SessionState, evolve, state_to_dict
from core.store.base import EventStore, StoredEvent
from core.store.integrity import chain_hash


@dataclass(frozen=True, slots=True)
class Finding:
    session_id: str
    problem: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    sessions: int
    events: int
    findings: tuple[Finding, ...]
    # Events stored before the hash chain existed (NULL hash at the start of their stream).
    unchained_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings


async def verify_store(
    store: EventStore, *, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Replay every session from its first event and report everything that does not add up."""
    stream_ids = await store.list_stream_ids()
    findings: list[Finding] = []
    total_events = 0
    unchained = 0
    for done, stream_id in enumerate(stream_ids, start=1):
        stored = await store.read_stream(stream_id)
        total_events += len(stored)
        chain_findings, stream_unchained = check_chain(stream_id, stored)
        unchained += stream_unchained
        findings.extend(chain_findings)
        findings.extend(await _verify_stream(store, stream_id, stored))
        if progress is not None:
            progress(done, len(stream_ids))
    return VerifyReport(len(stream_ids), total_events, tuple(findings), unchained)


def check_chain(stream_id: str, stored: list[StoredEvent]) -> tuple[list[Finding], int]:
    """Given a stream's events in order, return the hash-chain problems and how many events
    precede the chain (written before it existed).

    Only a prefix may be unchained: a missing hash after the chain began is a finding. The first
    wrong hash is reported by session and version; later ones follow from it and are not listed.
    """
    previous: str | None = None
    unchained = 0
    for event in stored:
        if event.event_hash is None:
            if previous is not None:
                return [
                    Finding(stream_id, f"event {event.version} has no hash inside the chain")
                ], 0
            unchained += 1
            continue
        expected = chain_hash(
            stream_id, event.version, event.type, event.schema_version, event.data, previous
        )
        if event.event_hash != expected:
            return [
                Finding(
                    stream_id,
                    f"hash chain broken at version {event.version} ({event.type}): the event was "
                    "edited, or one before it was removed or reordered",
                )
            ], unchained
        previous = event.event_hash
    return [], unchained


async def _verify_stream(
    store: EventStore, stream_id: str, stored: list[StoredEvent]
) -> list[Finding]:
    findings = []
    for expected, event in enumerate(stored, start=1):
        if event.version != expected:
            findings.append(
                Finding(
                    stream_id, f"sequence gap: expected version {expected}, found {event.version}"
                )
            )
            break
    snapshot = await store.load_snapshot(stream_id)
    state = SessionState()
    states_at: dict[int, SessionState] = {}
    for event in stored:
        try:
            decoded: Event = decode(event.type, event.schema_version, event.data)
            state = evolve(state, decoded)
        except (UnknownEvent, ValueError, TypeError) as error:
            findings.append(
                Finding(stream_id, f"cannot read event {event.version} ({event.type}): {error}")
            )
            return findings
        if snapshot is not None and state.version == snapshot.version:
            states_at[snapshot.version] = state
    if snapshot is not None and snapshot.schema_version == STATE_SCHEMA_VERSION:
        replayed = states_at.get(snapshot.version)
        if replayed is None:
            findings.append(
                Finding(stream_id, f"snapshot at version {snapshot.version} is past the last event")
            )
        elif _canonical(state_to_dict(replayed)) != _canonical(snapshot.state):
            findings.append(
                Finding(stream_id, f"snapshot at version {snapshot.version} differs from replay")
            )
    return findings


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
