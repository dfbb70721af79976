"""An event's digest from its data's canonical text (``chain_hashes_encoded``) is the digest of the
decoded data (``chain_hashes``, what ``db verify`` recomputes): the same bytes hashed, whatever the
data, and the stores that append this way write chains that verify."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import OrderedDict
from enum import StrEnum
from typing import Any

import pytest

from core.store.base import NewEvent
from core.store.integrity import ChainKey, _quoted, chain_hashes, chain_hashes_encoded, head_mac
from core.store.json_codec import _string_keys, dump_json, hashable_text, load_json

T0 = "2026-01-01T00:00:00+00:00"
KEY = ChainKey.from_secret("a key of at least sixteen bytes")


class Colour(StrEnum):
    RED = "red"


DATAS: list[dict[Any, Any]] = [
    {},
    {"n": 1},
    {"text": "héllo wörld ✓ 日本語 🎲", "quote": 'a "b" \\ c\n\t', "ctrl": "\x00\x1f\u2028"},
    {"floats": [0.1, 1e16, 1e-7, -0.0, 3.141592653589793, 2.5e308, 5e-324], "big": 10**30},
    {"special": [math.inf, -math.inf], "none": None, "bools": [True, False]},
    {"nested": {"b": [1, {"z": [], "a": {"é": 1, "e": 2, "E": 3}}], "a": ({"x": (1, 2)},)}},
    {"keys": {"10": 1, "9": 2, "": 3, "~": 4, "ä": 5, "a": 6}},
    # Keys that are not strings: written as strings but sorted as what they were.
    {"by_step": {10: "ten", 9: "nine", 1: "one"}},
    {"deep": [{"x": {2.5: "a", 10.0: "b"}}]},
    {"flags": {True: 1, False: 2}, "nulls": {None: 3}},
    {Colour.RED: 1, "b": 2},  # an enum key: a str subclass
    OrderedDict([("z", 1), ("a", {11: 1, 2: 2})]),
]


def old_way(data: dict[str, Any], previous: str | None, key: ChainKey | None) -> list[str]:
    """Round 1's digests: the data encoded, decoded, and canonical-encoded again inside them."""
    chained = [("Noted", 1, load_json(dump_json(data))), ("Other", 2, {"after": data and 1})]
    return chain_hashes("s-1", 4, chained, previous, key)


@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize("data", DATAS, ids=[str(i) for i in range(len(DATAS))])
@pytest.mark.parametrize("previous", [None, "ab" * 32])
def test_spliced_digests_are_the_old_digests(
    data: dict[str, Any], key: ChainKey | None, previous: str | None
) -> None:
    second = {"after": data and 1}
    encoded = [
        ("Noted", 1, hashable_text(data, dump_json(data))),
        ("Other", 2, hashable_text(second, dump_json(second))),
    ]
    assert chain_hashes_encoded("s-1", 4, encoded, previous, key) == old_way(data, previous, key)


def test_keys_that_are_not_strings_are_re_encoded_as_a_reader_sees_them() -> None:
    # Without the check the spliced text would be 1, 9, 10 in order, the decoded value's 1, 10, 9:
    # a digest ``db verify`` could never reproduce.
    data = {"by_step": {10: "ten", 9: "nine", 1: "one"}}
    text = dump_json(data)
    assert text == '{"by_step":{"1":"one","9":"nine","10":"ten"}}'
    assert hashable_text(data, text) == '{"by_step":{"1":"one","10":"ten","9":"nine"}}'
    naive = chain_hashes_encoded("s-1", 1, [("Noted", 1, text)], None, KEY)
    assert naive != chain_hashes("s-1", 1, [("Noted", 1, load_json(text))], None, KEY)


def test_string_keyed_data_is_spliced_as_it_is() -> None:
    data = {"b": [{"x": 1.5}], "a": "ü"}
    text = dump_json(data)
    assert hashable_text(data, text) is text


async def test_a_chain_appended_with_unusual_data_verifies(store: Any) -> None:
    """Every store's append (SQLite, PostgreSQL: through the spliced digests) writes digests that
    the verifier, reading the events back, recomputes."""
    from core.service.verify import check_chain

    events = [NewEvent("Noted", data) for data in DATAS]
    await store.append("spliced", events[:5], 0, recorded_at=T0)
    await store.append("spliced", events[5:], 5, recorded_at=T0)
    stored = await store.read_stream("spliced")
    assert [event.data for event in stored] == [load_json(dump_json(d)) for d in DATAS]
    findings, unchained = check_chain("spliced", stored)
    assert (findings, unchained) == ([], 0)


# Values the written-out payloads (chain_hashes_encoded, head_mac) must write as dump_json does,
# and values of other types, which take dump_json itself.
ODD_IDS = ["s-1", 'é "q" \\ \n\x00\u2028 🎲', "", "Ünïcodé²", "ab12"]


class Version(int):
    """An int subclass: json writes it with int's repr, the fast path leaves it to json."""


@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize("session_id", ODD_IDS)
@pytest.mark.parametrize("previous", [None, "ab" * 32, 'x"y'])
@pytest.mark.parametrize(
    ("event_type", "schema_version", "first"),
    [
        ("Noted", 1, 1),
        ("Ünïcode\t", 0, 10**20),
        ("Ünïcodé²", 4, 2),
        ("Noted", True, 1),
        ("Noted", 2, Version(3)),
    ],
)
def test_written_out_event_payloads_are_dump_json(
    key: ChainKey | None,
    session_id: str,
    previous: str | None,
    event_type: str,
    schema_version: int,
    first: int,
) -> None:
    data = {"a": [1, "ü"], "b": None}
    events = [(event_type, schema_version, data), ("Other", 3, {})]
    encoded = [(t, v, dump_json(d)) for t, v, d in events]
    expected = chain_hashes(session_id, first, events, previous, key)
    assert chain_hashes_encoded(session_id, first, encoded, previous, key) == expected


@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize("session_id", ODD_IDS)
@pytest.mark.parametrize("event_hash", [None, "cd" * 32, "\u2028", "ÿ1"])
@pytest.mark.parametrize("version", [0, 7, 10**20, Version(5), True])
def test_written_out_head_payloads_are_dump_json(
    key: ChainKey | None, session_id: str, event_hash: str | None, version: int
) -> None:
    payload = {
        "event_hash": event_hash,
        "key_id": key.key_id if key else None,
        "registration": "ef" * 32,
        "session_id": session_id,
        "version": version,
    }
    text = dump_json(payload).encode("utf-8")
    expected = (
        hashlib.sha256(text).hexdigest()
        if key is None
        else hmac.new(key.secret, text, hashlib.sha256).hexdigest()
    )
    assert head_mac(key, session_id, version, event_hash, "ef" * 32) == expected


# Strings of a digest's length (64), which ``_quoted`` checks with ``a2b_hex``: only hex may be
# written without json's escaping pass; anything else must come out as dump_json writes it.
DIGEST_LENGTH = [
    "ab" * 32,
    "AB" * 32,
    "g" * 64,
    'a"' * 32,
    "a\\" * 32,
    "\n" * 64,
    "ab" * 31 + "\x00a",
    "é" * 64,
    "a b " * 16,
    "0x" + "a" * 62,
    "a\u2028" * 32,
]


@pytest.mark.parametrize("value", DIGEST_LENGTH, ids=[str(i) for i in range(len(DIGEST_LENGTH))])
@pytest.mark.parametrize("key", [None, KEY], ids=["unkeyed", "keyed"])
def test_digest_length_strings_are_written_as_dump_json_writes_them(
    value: str, key: ChainKey | None
) -> None:
    assert len(value) == 64
    assert _quoted(value) == dump_json({"v": value})[5:-1]
    events = [("Noted", 1, {"n": 1}), ("Other", 2, {})]
    encoded = [(t, v, dump_json(d)) for t, v, d in events]
    assert chain_hashes_encoded("s-1", 3, encoded, value, key) == chain_hashes(
        "s-1", 3, events, value, key
    )
    payload = {
        "event_hash": value,
        "key_id": key.key_id if key else None,
        "registration": value,
        "session_id": "s-1",
        "version": 4,
    }
    text = dump_json(payload).encode("utf-8")
    expected = (
        hashlib.sha256(text).hexdigest()
        if key is None
        else hmac.new(key.secret, text, hashlib.sha256).hexdigest()
    )
    assert head_mac(key, "s-1", 4, value, value) == expected


def reference_string_keys(value: Any) -> bool:
    """The item-at-a-time walk ``_string_keys`` replaced: the answer it must keep giving."""
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                return False
            if isinstance(item, dict | list | tuple) and not reference_string_keys(item):
                return False
        return True
    return all(not isinstance(i, dict | list | tuple) or reference_string_keys(i) for i in value)


class Mapping(dict):  # type: ignore[type-arg]
    """A dict subclass: a container all the same."""


class Items(list):  # type: ignore[type-arg]
    """A list subclass: a container all the same."""


class Label(str):
    """A str subclass: as a key, not a string key (the slow, certain way)."""


KEYED = [
    *DATAS,
    {"a": [1, 2.5, None, True, "x"]},
    {"a": [1, [2, [3, {"b": {4: 5}}]]]},
    {"a": (1, (2, ({"b": {Label("c"): 1}},)))},
    {"a": Mapping({"b": Items([{"c": {None: 1}}])})},
    {"a": Mapping({"b": Items([{"c": {"d": 1}}])})},
    {"a": {"b": {"c": {"d": {"e": {}}}}}, "z": [[[]], (), {}]},
    {"a": Colour.RED, "b": [Colour.RED, {"c": 1}]},
    {"a": {"b": 1}, 2: "x"},
    {"a": [{"b": 1}, {"c": 2}, {3: 3}]},
    Mapping({"a": 1}),
    Mapping({1: "a"}),
]


@pytest.mark.parametrize("value", KEYED, ids=[str(i) for i in range(len(KEYED))])
def test_string_keys_answers_as_the_item_at_a_time_walk(value: dict[Any, Any]) -> None:
    assert _string_keys(value) is reference_string_keys(value)
    for container in (value, [value], (1, value), {"wrapped": value}):
        assert _string_keys(container) is reference_string_keys(container)
