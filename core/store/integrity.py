"""The per-session hash chain that makes an edited, removed or reordered event detectable.

Each stored event carries a digest over the canonical JSON of its session id, version, type,
schema version, data and the previous event's digest (``None`` for the first event of a chain).
With a key (``EVENT_HMAC_KEY``) the digest is an HMAC-SHA256 and the event records the key's id,
so whoever can write to the database but does not hold the key cannot recompute the chain after an
edit; without a key it is a plain SHA-256 (key id ``None``), which only catches careless edits.

Beside the chain, every stream has a **head** (its last version and digest, MACed), so deleting
the last event or a whole stream shows, and every stream is **registered** in one of
several MAC chains (registry buckets; which one is the store's choice, see
``core.store.registry_buckets``) whose tails are MACed too, so deleting a stream together with its
head shows. Every store computes all of this inside ``append``; ``db verify`` recomputes it.

Before its first registration a store makes the **registry directory**, a MACed record saying
how many buckets there are (:func:`directory_rows`: stored as the registry row ``-N``, beside the
``N`` empty tails made with it), and registrations then attest it (the count is in their MAC, and
a bucket's first one chains from its empty tail's MAC), so a whole bucket deleted, or emptied,
shows too (``core.service.verify``; docs/event-log.md, "Which registry bucket").

Rotation: set a new ``EVENT_HMAC_KEY`` and move the old one into ``EVENT_HMAC_KEYS`` (comma-
separated). New events use the new key; older ones are verified with the key their id names.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from binascii import a2b_hex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from operator import attrgetter
from typing import Any

from core.engine.frozen import quick_init
from core.store.json_codec import dump_json

# The buckets of the old rule, a stream id's crc32 modulo 16 (migration 0009's backfill and the
# streams registered before the store chose; core.store.registry_buckets).
REGISTRY_BUCKETS = 16
MIN_KEY_BYTES = 16
_KEY_ID_LABEL = b"curiouscore event key id"


@dataclass(frozen=True, slots=True)
class ChainKey:
    """One HMAC key and its public id (an HMAC of a constant: it names the key, reveals nothing)."""

    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str | bytes) -> ChainKey:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw) < MIN_KEY_BYTES:
            raise ValueError(f"an event HMAC key needs at least {MIN_KEY_BYTES} bytes")
        key_id = hmac.new(raw, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]
        return cls(key_id, raw)


@dataclass(frozen=True, slots=True)
class ChainKeys:
    """The signing key (``current``, None for an unkeyed chain) and every key verification knows."""

    current: ChainKey | None = None
    retired: tuple[ChainKey, ...] = ()

    @classmethod
    def from_secrets(cls, current: str | None, retired: Iterable[str] = ()) -> ChainKeys:
        """Given ``EVENT_HMAC_KEY`` and the entries of ``EVENT_HMAC_KEYS``, return the keyring."""
        return cls(
            ChainKey.from_secret(current) if current else None,
            tuple(ChainKey.from_secret(secret) for secret in retired if secret),
        )

    def find(self, key_id: str) -> ChainKey | None:
        """Return the key with that id, if this keyring holds it."""
        for key in (self.current, *self.retired):
            if key is not None and key.key_id == key_id:
                return key
        return None


class UnknownKey(Exception):
    """A digest names a key id that the keyring does not hold."""


def _digest(key: ChainKey | None, payload: dict[str, Any]) -> str:
    return _mac(key, dump_json(payload).encode("utf-8"))


def _mac(key: ChainKey | None, text: bytes) -> str:
    """SHA-256 of ``text``, or its HMAC-SHA256 with ``key`` (``hmac.digest``: OpenSSL's one-shot
    HMAC, the same bytes as ``hmac.new(…).hexdigest()`` without building an ``HMAC`` object)."""
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.digest(key.secret, text, "sha256").hex()


def _text(value: str | None) -> str:
    """``value`` as :func:`dump_json` writes it (a string or null)."""
    return "null" if value is None else _quoted(value)


def _quoted(value: str) -> str:
    """``value`` as :func:`dump_json` writes a string. Digests, key ids and hex are alphanumeric,
    which JSON writes as they are (it escapes only quotes, backslashes and control characters,
    ``ensure_ascii`` being off), so they skip the escaping pass.

    A digest's 64 characters are checked by ``a2b_hex`` (a table look-up a character), not
    ``str.isalnum`` (Unicode's type records, ~35 instructions a character): an append writes four
    or five digests into its payloads, ~1,000 instructions saved on each (~5,000 per append of
    the issue flow, ``benchmarks/bench_append_call.py``). Tested against ``dump_json`` with
    64-character strings that are not hex."""
    if len(value) == _DIGEST_CHARS and value.isascii():
        try:
            a2b_hex(value)
        except ValueError:  # not hex after all: the general way below
            pass
        else:
            return f'"{value}"'
    return f'"{value}"' if value.isalnum() else encode_basestring(value)


# A SHA-256 digest in hex, as _mac writes it.
_DIGEST_CHARS = 64


def chain_hash(
    session_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data: dict[str, Any],
    previous: str | None,
    key: ChainKey | None = None,
) -> str:
    """Given one event and the digest of the event before it in its session, return its digest
    (an HMAC with ``key``, else SHA-256; the key id is part of what is MACed)."""
    payload = _event_payload(session_id, version, event_type, schema_version, previous, key)
    payload["data"] = data
    return _digest(key, payload)


def _event_payload(
    session_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    previous: str | None,
    key: ChainKey | None,
) -> dict[str, Any]:
    """What an event's digest covers besides its data."""
    payload: dict[str, Any] = {
        "previous": previous,
        "schema_version": schema_version,
        "session_id": session_id,
        "type": event_type,
        "version": version,
    }
    if key is not None:
        payload["key_id"] = key.key_id
    return payload


def chain_hashes(
    session_id: str,
    first_version: int,
    events: Sequence[tuple[str, int, dict[str, Any]]],
    previous: str | None,
    key: ChainKey | None = None,
) -> list[str]:
    """Given ``(type, schema_version, data)`` triples appended from ``first_version`` on after an
    event hashed ``previous``, return their digests in order."""
    hashes: list[str] = []
    for offset, (event_type, schema_version, data) in enumerate(events):
        previous = chain_hash(
            session_id, first_version + offset, event_type, schema_version, data, previous, key
        )
        hashes.append(previous)
    return hashes


def chain_hashes_encoded(
    session_id: str,
    first_version: int,
    events: Sequence[tuple[str, int, str]],
    previous: str | None,
    key: ChainKey | None = None,
) -> list[str]:
    """:func:`chain_hashes` of events whose data is given as its canonical text
    (:func:`core.store.json_codec.hashable_text`), spliced into each digest's payload as it is:
    the bytes hashed are those :func:`chain_hash` hashes for the decoded data, without decoding
    the text and encoding it again (``"data"`` sorts first among the payload's keys)."""
    hashes: list[str] = []
    # The payload's other keys written out in their sorted order, as dump_json writes them (only
    # for exact str and int values; anything else takes dump_json itself): building and sorting
    # a dict per event cost more than hashing it. ``test_integrity`` compares the two texts.
    key_id = "" if key is None else '"key_id":' + _quoted(key.key_id) + ","
    plain = type(session_id) is str and type(first_version) is int
    quoted_session = encode_basestring(session_id) if plain else ""
    previous_text = _text(previous) if previous is None or type(previous) is str else ""
    for offset, (event_type, schema_version, data) in enumerate(events):
        version = first_version + offset
        if (
            plain
            and type(event_type) is str
            and type(schema_version) is int
            and (previous is None or type(previous) is str)
        ):
            text = (
                f'{{"data":{data},{key_id}"previous":{previous_text},'
                f'"schema_version":{int.__repr__(schema_version)},"session_id":{quoted_session},'
                f'"type":{_quoted(event_type)},"version":{int.__repr__(version)}}}'
            )
        else:
            rest = _event_payload(session_id, version, event_type, schema_version, previous, key)
            text = '{"data":' + data + "," + dump_json(rest)[1:]
        previous = _mac(key, text.encode("utf-8"))
        # _mac's hex, written as it is: not checked again (~1,700 instructions per append).
        previous_text = f'"{previous}"'
        hashes.append(previous)
    return hashes


def registry_bucket(session_id: str) -> int:
    """Return the registration chain the old rule put a stream in (its id's crc32 modulo 16);
    new streams are registered in a bucket the store chooses, which verifies the same."""
    return zlib.crc32(session_id.encode("utf-8")) % REGISTRY_BUCKETS


@quick_init
@dataclass(frozen=True, slots=True)
class StreamHead:
    """A stream's last version and digest, and where it is registered; MACed as a whole."""

    session_id: str
    version: int
    event_hash: str | None
    key_id: str | None
    bucket: int
    registered_seq: int
    registered_key_id: str | None
    registration_mac: str
    head_mac: str


@quick_init
@dataclass(frozen=True, slots=True)
class RegistryHead:
    """The tail of one registration chain: how many streams it holds and the last one's MAC."""

    bucket: int
    seq: int
    last_mac: str | None
    key_id: str | None
    mac: str


def registration_mac(
    key: ChainKey | None,
    bucket: int,
    seq: int,
    session_id: str,
    previous: str | None,
    buckets: int | None = None,
) -> str:
    """The MAC registering ``session_id`` as entry ``seq`` of ``bucket`` after ``previous``;
    ``buckets`` is the registry directory's count, which a registration made once the directory
    exists attests (None: the format from before the directory)."""
    if (
        type(bucket) is int
        and type(seq) is int
        and type(session_id) is str
        and (previous is None or type(previous) is str)
        and (buckets is None or type(buckets) is int)
    ):  # every create: its payload written out, as head_mac does (~9,600 instructions less)
        count = "" if buckets is None else f'"buckets":{int.__repr__(buckets)},'
        key_id = None if key is None else key.key_id
        text = (
            f'{{"bucket":{int.__repr__(bucket)},{count}"key_id":{_text(key_id)},'
            f'"previous":{_text(previous)},"seq":{int.__repr__(seq)},'
            f'"session_id":{_quoted(session_id)}}}'
        )
        return _mac(key, text.encode("utf-8"))
    payload: dict[str, Any] = {
        "bucket": bucket,
        "key_id": key.key_id if key else None,
        "previous": previous,
        "seq": seq,
        "session_id": session_id,
    }
    if buckets is not None:
        payload["buckets"] = buckets
    return _digest(key, payload)


def head_mac(
    key: ChainKey | None, session_id: str, version: int, event_hash: str | None, reg_mac: str
) -> str:
    """The MAC of a stream head: version and last digest, bound to the stream's registration."""
    if (
        type(session_id) is str
        and type(version) is int
        and type(reg_mac) is str
        and (event_hash is None or type(event_hash) is str)
    ):  # every append: its payload written out, as chain_hashes_encoded does
        key_id = None if key is None else key.key_id
        text = (
            f'{{"event_hash":{_text(event_hash)},"key_id":{_text(key_id)},'
            f'"registration":{_quoted(reg_mac)},'
            f'"session_id":{_quoted(session_id)},"version":{int.__repr__(version)}}}'
        )
        return _mac(key, text.encode("utf-8"))
    return _digest(
        key,
        {
            "event_hash": event_hash,
            "key_id": key.key_id if key else None,
            "registration": reg_mac,
            "session_id": session_id,
            "version": version,
        },
    )


def registry_head_mac(key: ChainKey | None, bucket: int, seq: int, last_mac: str | None) -> str:
    """The MAC of a registration chain's tail."""
    return _digest(
        key,
        {"bucket": bucket, "key_id": key.key_id if key else None, "last": last_mac, "seq": seq},
    )


def directory_mac(key: ChainKey | None, buckets: int) -> str:
    """The MAC of the registry directory listing ``buckets`` registration chains. Its payload has
    a ``"directory"`` key, which no tail's or registration's has: it is never taken for one."""
    return _digest(
        key, {"buckets": buckets, "directory": "registry", "key_id": key.key_id if key else None}
    )


def directory_rows(key: ChainKey | None, buckets: int) -> list[RegistryHead]:
    """The registry rows a store makes before its first registration, under ``key``: the
    directory (bucket ``-buckets``: seq 0 and no last MAC, as an empty tail is, so that ``db
    verify`` of the code before it passes over the row) and the ``buckets`` empty tails, each
    MACed (a bucket's first registration chains from its tail's MAC)."""
    key_id = key.key_id if key else None
    directory = RegistryHead(-buckets, 0, None, key_id, directory_mac(key, buckets))
    return [
        directory,
        *(
            RegistryHead(bucket, 0, None, key_id, registry_head_mac(key, bucket, 0, None))
            for bucket in range(buckets)
        ),
    ]


def registry_directory(tails: Iterable[RegistryHead]) -> RegistryHead | None:
    """The registry directory among the registry's rows (the one bucket below 0), if any."""
    return min((tail for tail in tails if tail.bucket < 0), key=attrgetter("bucket"), default=None)


def directory_buckets(directory: RegistryHead) -> int:
    """How many buckets the registry directory lists (its row is bucket ``-N``)."""
    return -directory.bucket


def new_head(
    key: ChainKey | None,
    session_id: str,
    version: int,
    event_hash: str | None,
    *,
    registered: RegistryHead | None,
    existing: StreamHead | None,
    bucket: int | None = None,
    buckets: int | None = None,
) -> tuple[StreamHead, RegistryHead | None]:
    """Return the stream's head after an append (and, for a new stream, its bucket's new tail).

    ``existing`` is the stream's current head; a stream without one is registered after
    ``registered``, the current tail of the bucket the store chose for it (None when that bucket
    has no row: then ``bucket`` names it, else the old rule's :func:`registry_bucket` does).
    ``buckets`` is the registry directory's count once it exists (None before): the registration
    attests it, and a bucket's first one chains from its empty tail's MAC.
    """
    if existing is not None:
        head = StreamHead(
            session_id,
            version,
            event_hash,
            key.key_id if key else None,
            existing.bucket,
            existing.registered_seq,
            existing.registered_key_id,
            existing.registration_mac,
            head_mac(key, session_id, version, event_hash, existing.registration_mac),
        )
        return head, None
    if registered is not None:
        bucket = registered.bucket
    elif bucket is None:
        bucket = registry_bucket(session_id)
    seq = (registered.seq if registered else 0) + 1
    previous = registered.last_mac if registered else None
    if buckets is not None and registered is not None and registered.seq == 0:
        previous = registered.mac
    reg = registration_mac(key, bucket, seq, session_id, previous, buckets)
    key_id = key.key_id if key else None
    head = StreamHead(
        session_id,
        version,
        event_hash,
        key_id,
        bucket,
        seq,
        key_id,
        reg,
        head_mac(key, session_id, version, event_hash, reg),
    )
    tail = RegistryHead(bucket, seq, reg, key_id, registry_head_mac(key, bucket, seq, reg))
    return head, tail


def key_for(keys: ChainKeys, key_id: str | None) -> ChainKey | None:
    """Return the key a stored digest names (None for an unkeyed one); raise :class:`UnknownKey`."""
    if key_id is None:
        return None
    key = keys.find(key_id)
    if key is None:
        raise UnknownKey(key_id)
    return key
