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
    ChainKey,
    ChainKeys,
    RegistryHead,
    StreamHead,
    UnknownKey,
    chain_hash,
    directory_buckets,
    directory_mac,
    head_mac,
    key_for,
    registration_mac,
    registry_directory,
    registry_head_mac,
)
from core.store.registry_buckets import CHOSEN_BUCKETS


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
    heads: dict[str, StreamHead], rows: dict[int, RegistryHead], keys: ChainKeys
) -> list[Finding]:
    """Walk every registration chain: a stream deleted together with its head leaves a gap or a
    broken link, or a tail that counts more streams than remain. Once the registry directory
    exists (``rows``' bucket ``-N``), every bucket it lists must have its tail, so a whole
    bucket deleted shows; and registrations that attest the directory show it deleted."""
    findings: list[Finding] = []
    directory = registry_directory(rows.values())
    tails = {bucket: tail for bucket, tail in rows.items() if bucket >= 0}
    count = CHOSEN_BUCKETS if directory is None else directory_buckets(directory)
    if directory is not None:
        findings.extend(_check_directory(directory, keys))
    by_bucket: dict[int, list[StreamHead]] = {}
    for head in heads.values():
        by_bucket.setdefault(head.bucket, []).append(head)
    listed = set(range(count)) if directory is not None else set()
    attesting = 0
    for bucket in sorted(set(by_bucket) | set(tails) | listed):
        where = f"registry bucket {bucket}"
        members = sorted(by_bucket.get(bucket, []), key=lambda h: h.registered_seq)
        previous: str | None = None
        empty_macs = _empty_tail_macs(keys, directory, bucket) if members else set()
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
            attests = _registration_format(key, bucket, head, previous, count, empty_macs)
            if attests is None:
                findings.append(
                    Finding(
                        where,
                        f"registration {expected_seq} ({head.session_id!r}) does not follow the "
                        "one before it: a session was deleted or its registration edited",
                    )
                )
                break
            attesting += attests
            previous = head.registration_mac
        else:
            findings.extend(_check_tail(where, bucket, members, tails.get(bucket), keys, directory))
    if directory is None and attesting:
        findings.append(
            Finding(
                "registry directory",
                f"the registry directory is missing though {attesting} sessions were registered "
                "after it was made: it was deleted (with a whole bucket, perhaps)",
            )
        )
    return findings


def _registration_format(
    key: ChainKey | None,
    bucket: int,
    head: StreamHead,
    previous: str | None,
    count: int,
    empty_macs: set[str],
) -> bool | None:
    """Whether ``head``'s registration attests the registry directory (True), is of the format
    from before it (False), or is neither (None). One attesting the directory that opens its
    bucket chains from the bucket's empty tail's MAC, which only the key could have made."""
    seq, session_id = head.registered_seq, head.session_id
    opening = empty_macs if seq == 1 else {previous}
    for after in opening:
        if head.registration_mac == registration_mac(key, bucket, seq, session_id, after, count):
            return True
    if head.registration_mac == registration_mac(key, bucket, seq, session_id, previous):
        return False
    return None


def _empty_tail_macs(keys: ChainKeys, directory: RegistryHead | None, bucket: int) -> set[str]:
    """The MACs ``bucket``'s empty tail may have had when its first registration attesting the
    directory chained from it: made under a key verification knows, or unkeyed when the
    directory is (or is missing, and cannot say). A bucket deleted and made again by a create
    (its row inserted unkeyed) shows under a key."""
    macs = {
        registry_head_mac(key, bucket, 0, None)
        for key in (keys.current, *keys.retired)
        if key is not None
    }
    if directory is None or directory.key_id is None:
        macs.add(registry_head_mac(None, bucket, 0, None))
    return macs


def _check_directory(directory: RegistryHead, keys: ChainKeys) -> list[Finding]:
    where = "registry directory"
    try:
        key = key_for(keys, directory.key_id)
    except UnknownKey:
        return [Finding(where, f"the directory uses key id {directory.key_id}, which is unknown")]
    if directory.mac != directory_mac(key, directory_buckets(directory)):
        return [Finding(where, "the registry directory was edited (its MAC is wrong)")]
    return []


def _check_tail(
    where: str,
    bucket: int,
    members: list[StreamHead],
    tail: RegistryHead | None,
    keys: ChainKeys,
    directory: RegistryHead | None,
) -> list[Finding]:
    count = len(members)
    last = members[-1].registration_mac if members else None
    if tail is None:
        if not members and directory is not None:
            return [
                Finding(
                    where,
                    "its tail is missing though the registry directory lists "
                    f"{directory_buckets(directory)} buckets: the whole bucket was deleted",
                )
            ]
        return [Finding(where, f"the registry tail is missing ({count} sessions registered)")]
    try:
        key = key_for(keys, tail.key_id)
    except UnknownKey:
        return [Finding(where, f"the registry tail uses key id {tail.key_id}, which is unknown")]
    if tail.seq == 0 and tail.last_mac is None and not members and directory is None:
        return []  # a bucket made ready by a creation that rolled back, before the directory
    if tail.mac != registry_head_mac(key, bucket, tail.seq, tail.last_mac):
        return [Finding(where, "the registry tail was edited (its MAC is wrong)")]
    if tail.seq == 0 and tail.key_id is None and directory is not None and directory.key_id:
        # The directory's empty tails are keyed as it is (and a registration rewrites one under
        # its own key): an unkeyed empty one was written without the key.
        return [
            Finding(
                where,
                "the registry tail is empty and unkeyed though the registry directory is keyed: "
                "the bucket was emptied (its sessions deleted, its tail rewritten)",
            )
        ]
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
