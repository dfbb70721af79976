"""Checking the event log (``curiouscore db verify``): the keyed hash chain, each stream's recorded
head, the registration chains that make a deleted stream show, sequence gaps, unreadable events,
snapshots that disagree with replay, and every read model rebuilt from the events and compared."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.engine.events import Event, UnknownEvent, decode
from core.engine.state import STATE_SCHEMA_VERSION, SessionState, evolve, state_to_dict
from core.service.verify_models import ReadModelCheck
from core.service.verify_reviews import ReviewModelCheck
from core.store.base import Store, StoredEvent
from core.store.integrity import (
    ChainKeys,
    RegistryHead,
    StreamHead,
    UnknownKey,
    chain_hash,
    head_mac,
    key_for,
    registration_mac,
    registry_head_mac,
)


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
    # Events whose digest is an unkeyed SHA-256 (written without EVENT_HMAC_KEY): they show
    # careless edits, not an edit by someone who recomputes the chain.
    unkeyed_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings


async def verify_store(
    store: Store,
    *,
    keys: ChainKeys | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Replay every session from its first event and report everything that does not add up.

    ``keys`` are the event HMAC keys (``EVENT_HMAC_KEY`` and ``EVENT_HMAC_KEYS``); an event or
    head signed with a key not among them is a finding.
    """
    keys = keys or ChainKeys()
    stream_ids = await store.list_stream_ids()
    heads = await store.stream_heads()
    models = ReadModelCheck()
    reviews = ReviewModelCheck()
    findings: list[Finding] = []
    total_events = unchained = unkeyed = 0
    for done, stream_id in enumerate(stream_ids, start=1):
        stored = await store.read_stream(stream_id)
        total_events += len(stored)
        unkeyed += sum(1 for e in stored if e.event_hash is not None and e.key_id is None)
        chain_findings, stream_unchained = check_chain(stream_id, stored, keys)
        unchained += stream_unchained
        findings.extend(chain_findings)
        findings.extend(check_head(stream_id, stored, heads.get(stream_id), keys))
        stream_findings, state = await _verify_stream(store, stream_id, stored)
        findings.extend(stream_findings)
        if state is not None:
            models.add(state, stored)
            reviews.add(stored)
        if progress is not None:
            progress(done, len(stream_ids))
    present = set(stream_ids)
    for session_id, head in sorted(heads.items()):
        if session_id not in present:
            findings.append(
                Finding(
                    session_id,
                    f"the whole session was deleted: its recorded head is at version "
                    f"{head.version} but the log has no events for it",
                )
            )
    findings.extend(check_registrations(heads, await store.registry_heads(), keys))
    findings.extend(
        Finding(where, problem) for where, problem in await models.compare(store, present)
    )
    findings.extend(Finding(where, problem) for where, problem in await reviews.compare(store))
    return VerifyReport(len(stream_ids), total_events, tuple(findings), unchained, unkeyed)


def check_chain(
    stream_id: str, stored: Sequence[StoredEvent], keys: ChainKeys | None = None
) -> tuple[list[Finding], int]:
    """Given a stream's events in order, return the hash-chain problems and how many events
    precede the chain (written before it existed).

    Only a prefix may be unchained, and once an event is keyed every later one must be: a missing
    hash or key after that is a finding. The first wrong digest is reported by session and
    version; later ones follow from it and are not listed.
    """
    keys = keys or ChainKeys()
    previous: str | None = None
    keyed = False
    unchained = 0
    for event in stored:
        if event.event_hash is None:
            if previous is not None:
                return [
                    Finding(stream_id, f"event {event.version} has no hash inside the chain")
                ], 0
            unchained += 1
            continue
        if keyed and event.key_id is None:
            return [
                Finding(
                    stream_id,
                    f"event {event.version} ({event.type}) has an unkeyed hash after keyed "
                    "events: the chain was recomputed without the key",
                )
            ], unchained
        try:
            key = key_for(keys, event.key_id)
        except UnknownKey:
            return [
                Finding(
                    stream_id,
                    f"event {event.version} is signed with key id {event.key_id}, which is not "
                    "in EVENT_HMAC_KEY or EVENT_HMAC_KEYS: cannot verify it",
                )
            ], unchained
        keyed = keyed or key is not None
        expected = chain_hash(
            stream_id, event.version, event.type, event.schema_version, event.data, previous, key
        )
        if event.event_hash != expected:
            return [
                Finding(
                    stream_id,
                    f"hash chain broken at version {event.version} ({event.type}): the event was "
                    "edited, one before it was removed or reordered, or its hash was recomputed "
                    "without the key",
                )
            ], unchained
        previous = event.event_hash
    return [], unchained


def check_head(
    stream_id: str, stored: Sequence[StoredEvent], head: StreamHead | None, keys: ChainKeys
) -> list[Finding]:
    """Compare a stream's events with its recorded head: truncation, a replaced last event, a
    forged head, or a stream registered under a key whose events are not keyed."""
    if not stored:
        return []
    last = stored[-1]
    if head is None:
        return [
            Finding(
                stream_id,
                "the session has no recorded head: its head was deleted, or its events were "
                "written around the store",
            )
        ]
    findings: list[Finding] = []
    try:
        key = key_for(keys, head.key_id)
    except UnknownKey:
        return [
            Finding(
                stream_id,
                f"the head is signed with key id {head.key_id}, which is not in EVENT_HMAC_KEY "
                "or EVENT_HMAC_KEYS: cannot verify it",
            )
        ]
    if head.head_mac != head_mac(
        key, stream_id, head.version, head.event_hash, head.registration_mac
    ):
        findings.append(Finding(stream_id, "the recorded head was edited (its MAC is wrong)"))
    if head.version > last.version:
        findings.append(
            Finding(
                stream_id,
                f"truncated: the head records version {head.version} but the log ends at "
                f"version {last.version} (events were deleted)",
            )
        )
    elif head.version < last.version:
        findings.append(
            Finding(
                stream_id,
                f"events after the recorded head: the head is at version {head.version}, the "
                f"log at {last.version} (written around the store)",
            )
        )
    elif head.event_hash != last.event_hash:
        findings.append(
            Finding(
                stream_id,
                f"the last event (version {last.version}) is not the one the head recorded",
            )
        )
    if head.registered_key_id is not None and (
        head.key_id is None or any(e.key_id is None for e in stored)
    ):
        findings.append(
            Finding(
                stream_id,
                "the session was registered under a key but has unkeyed digests: the chain "
                "was recomputed without the key",
            )
        )
    return findings


def check_registrations(
    heads: dict[str, StreamHead], tails: dict[int, RegistryHead], keys: ChainKeys
) -> list[Finding]:
    """Walk every registration chain: a stream deleted together with its head leaves a gap or a
    broken link, or a tail that counts more streams than remain."""
    findings: list[Finding] = []
    by_bucket: dict[int, list[StreamHead]] = {}
    for head in heads.values():
        by_bucket.setdefault(head.bucket, []).append(head)
    for bucket in sorted(set(by_bucket) | set(tails)):
        where = f"registry bucket {bucket}"
        members = sorted(by_bucket.get(bucket, []), key=lambda h: h.registered_seq)
        previous: str | None = None
        for expected_seq, head in enumerate(members, start=1):
            if head.registered_seq != expected_seq:
                findings.append(
                    Finding(
                        where,
                        f"registration {expected_seq} is missing (next is "
                        f"{head.session_id!r} at {head.registered_seq}): a session was deleted",
                    )
                )
                break
            try:
                key = key_for(keys, head.registered_key_id)
            except UnknownKey:
                findings.append(
                    Finding(where, f"registration {expected_seq} uses an unknown key id")
                )
                break
            expected = registration_mac(key, bucket, expected_seq, head.session_id, previous)
            if head.registration_mac != expected:
                findings.append(
                    Finding(
                        where,
                        f"registration {expected_seq} ({head.session_id!r}) does not follow the "
                        "one before it: a session was deleted or its registration edited",
                    )
                )
                break
            previous = head.registration_mac
        else:
            findings.extend(_check_tail(where, bucket, members, tails.get(bucket), keys))
    return findings


def _check_tail(
    where: str, bucket: int, members: list[StreamHead], tail: RegistryHead | None, keys: ChainKeys
) -> list[Finding]:
    count = len(members)
    last = members[-1].registration_mac if members else None
    if tail is None:
        return [Finding(where, f"the registry tail is missing ({count} sessions registered)")]
    try:
        key = key_for(keys, tail.key_id)
    except UnknownKey:
        return [Finding(where, f"the registry tail uses key id {tail.key_id}, which is unknown")]
    if tail.seq == 0 and tail.last_mac is None and not members:
        return []  # a bucket made ready by a creation that rolled back
    if tail.mac != registry_head_mac(key, bucket, tail.seq, tail.last_mac):
        return [Finding(where, "the registry tail was edited (its MAC is wrong)")]
    if tail.seq != count or tail.last_mac != last:
        return [
            Finding(
                where,
                f"the registry counts {tail.seq} sessions but {count} remain: the last "
                "registered session was deleted",
            )
        ]
    return []


async def _verify_stream(
    store: Store, stream_id: str, stored: list[StoredEvent]
) -> tuple[list[Finding], SessionState | None]:
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
            return findings, None
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
    return findings, state


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
