"""Cold storage for finished sessions: ``db archive`` writes, verifies, then marks; ``db restore``
brings an archive back.

An archive directory holds gzip-compressed JSON Lines files (one per batch, one event per line)
and ``manifest.json`` listing each file's sha256, event count and sessions. Events are never
deleted from the database: archiving records, after re-reading what was written, that a verified
copy exists, so the log can later be moved or pruned by an operator who decides to.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.engine.events import SessionCompleted, decode
from core.engine.state import fold
from core.service.sessions import session_summary
from core.service.verify import check_chain
from core.store.base import LearnerStore, StoredEvent, XpGrant
from core.store.integrity import ChainKeys
from core.store.sql import SqlStore
from core.store.sql_archive import ArchivedSession

MANIFEST = "manifest.json"
FORMAT = "curiouscore-archive/1"
BATCH_SESSIONS = 200


class ArchiveError(Exception):
    """An archive could not be written or read back as promised; the message says what."""


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    sessions: int
    events: int
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RestoreReport:
    sessions: int
    events_added: int
    events_in_archive: int


def parse_age(text: str) -> timedelta:
    """Given an age such as ``90d``, ``12h`` or ``30m``, return it as a timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"age {text!r} must look like 90d, 12h, 30m or 2w")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


async def archive_sessions(
    store: SqlStore,
    directory: Path,
    *,
    older_than: timedelta,
    now: str,
    batch_sessions: int = BATCH_SESSIONS,
    progress: Callable[[int], None] | None = None,
) -> ArchiveReport:
    """Copy finished sessions last updated more than ``older_than`` before ``now`` to
    ``directory``, one verified file per batch, and only then mark them archived."""
    cutoff = (datetime.fromisoformat(now) - older_than).isoformat(timespec="milliseconds")
    manifest = _open_manifest(directory)
    stamp = now.replace(":", "").replace("-", "").replace("+", "Z")[:15]
    files: list[str] = []
    sessions = events = 0
    while session_ids := await store.archive_candidates(cutoff, batch_sessions):
        streams = [await store.read_stream(session_id) for session_id in session_ids]
        name = f"events-{stamp}-{len(manifest['files']) + 1:05d}.jsonl.gz"
        entry = _write_batch(directory / name, streams)
        _verify_batch(directory / name, entry, streams, store.chain_keys)
        manifest["files"].append(entry)
        _write_manifest(directory, manifest)
        await store.mark_archived(
            [
                # Every candidate is marked, even one without events, so the loop always ends.
                ArchivedSession(sid, name, len(s), s[-1].event_hash if s else None, now)
                for sid, s in zip(session_ids, streams, strict=True)
            ]
        )
        files.append(name)
        sessions += len(streams)
        events += entry["events"]
        if progress is not None:
            progress(sessions)
    return ArchiveReport(sessions, events, tuple(files))


async def restore_archive(
    store: SqlStore, directory: Path, *, now: str, progress: Callable[[int], None] | None = None
) -> RestoreReport:
    """Check every file of the archive in ``directory`` against its manifest, then put its
    sessions back (idempotent: events already stored are compared, not duplicated), rebuild their
    session index rows and mark them archived."""
    manifest = _read_manifest(directory)
    batches: list[tuple[str, list[list[StoredEvent]]]] = []
    for entry in manifest["files"]:
        streams = _read_batch(directory / entry["name"])
        _check_entry(directory / entry["name"], entry, streams, store.chain_keys)
        batches.append((entry["name"], streams))
    sessions = added = total = 0
    for name, streams in batches:
        for stream in streams:
            added += await store.import_stream(stream)
            total += len(stream)
            await _index_session(store, stream)
        await store.mark_archived(
            [ArchivedSession(s[0].stream_id, name, len(s), s[-1].event_hash, now) for s in streams]
        )
        sessions += len(streams)
        if progress is not None:
            progress(sessions)
    return RestoreReport(sessions, added, total)


# -- files ------------------------------------------------------------------------------------


def _open_manifest(directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / MANIFEST).exists():
        return _read_manifest(directory)
    return {"format": FORMAT, "files": []}


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArchiveError(f"{path}: cannot read the manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path}: not a {FORMAT} manifest")
    return manifest


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    # Write-then-rename, so a crash never leaves a half-written manifest behind.
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(directory / MANIFEST)


def _event_line(event: StoredEvent) -> dict[str, Any]:
    return {
        "session_id": event.stream_id,
        "version": event.version,
        "position": event.position,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "recorded_at": event.recorded_at,
        "event_hash": event.event_hash,
        "key_id": event.key_id,
    }


def _write_batch(path: Path, streams: list[list[StoredEvent]]) -> dict[str, Any]:
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        for stream in streams:
            for event in stream:
                line = json.dumps(_event_line(event), sort_keys=True, ensure_ascii=False)
                out.write(line.encode("utf-8") + b"\n")
    return {
        "name": path.name,
        "sha256": _sha256(path),
        "events": sum(len(s) for s in streams),
        "sessions": {s[0].stream_id: len(s) for s in streams if s},
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_batch(path: Path) -> list[list[StoredEvent]]:
    streams: dict[str, list[StoredEvent]] = {}
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                event = StoredEvent(
                    stream_id=row["session_id"],
                    version=row["version"],
                    position=row["position"],
                    type=row["type"],
                    schema_version=row["schema_version"],
                    data=row["data"],
                    recorded_at=row["recorded_at"],
                    event_hash=row["event_hash"],
                    key_id=row.get("key_id"),
                )
                streams.setdefault(event.stream_id, []).append(event)
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise ArchiveError(f"{path}: unreadable ({error})") from None
    return list(streams.values())


def _check_entry(
    path: Path, entry: dict[str, Any], streams: list[list[StoredEvent]], keys: ChainKeys
) -> None:
    """Raise ArchiveError unless the file matches its manifest entry and every stream's chain."""
    if _sha256(path) != entry["sha256"]:
        raise ArchiveError(f"{path}: checksum differs from the manifest")
    counts = {s[0].stream_id: len(s) for s in streams if s}
    if counts != entry["sessions"] or sum(counts.values()) != entry["events"]:
        raise ArchiveError(f"{path}: event counts differ from the manifest")
    for stream in streams:
        findings, _unchained = check_chain(stream[0].stream_id, stream, keys)
        versions = [event.version for event in stream]
        if findings or versions != list(range(1, len(stream) + 1)):
            raise ArchiveError(f"{path}: session {stream[0].stream_id} does not verify")


def _verify_batch(
    path: Path, entry: dict[str, Any], written: list[list[StoredEvent]], keys: ChainKeys
) -> None:
    """Re-read what was just written and compare it with the database's events."""
    read_back = _read_batch(path)
    _check_entry(path, entry, read_back, keys)
    if [[_event_line(e) for e in s] for s in read_back] != [
        [_event_line(e) for e in s] for s in written if s
    ]:
        raise ArchiveError(f"{path}: what was read back differs from the database")


async def _index_session(store: LearnerStore, stream: list[StoredEvent]) -> None:
    """Rebuild the read models of a restored session: its index row and any XP it granted."""
    events = [decode(e.type, e.schema_version, e.data) for e in stream]
    state = fold(events)
    await store.upsert_session_summary(session_summary(state))
    for event in events:
        if isinstance(event, SessionCompleted) and event.xp_granted > 0:
            await store.grant_xp(
                XpGrant(
                    state.learner_id,
                    state.challenge_id,
                    state.session_id,
                    event.xp_granted,
                    event.at,
                )
            )
