"""The canonical JSON text is exactly ``json.dumps`` with the canonical options (chains hash it)."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.store.json_codec import dump_json, load_json

VALUES = [
    {},
    {"b": 1, "a": [1, 2.5, None, True, "x"], "c": {"z": -0.0, "y": 1e-07, "x": 1e16}},
    {"text": 'é ☃ \u2028 \n\t\x01\x7f "quoted" \\ 𝄞', "ünïcode-key": "v"},
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "big": 2**70},
    {"nested": [[{"k": (1, 2)}], {"deep": {"deeper": [{"b": 2, "a": 1}]}}]},
]


@pytest.mark.parametrize("value", VALUES)
def test_dump_json_is_the_canonical_dumps(value: dict[str, object]) -> None:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert dump_json(value) == canonical


def test_dump_json_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError):
        dump_json({"set": {1, 2}})
    with pytest.raises(TypeError):
        load_json("[1, 2]")


def test_dump_json_refuses_a_circular_value() -> None:
    value: dict[str, object] = {"a": 1}
    value["self"] = value
    with pytest.raises(ValueError, match="Circular reference"):
        dump_json(value)


def test_a_refused_value_leaves_nothing_behind() -> None:
    """The encoder remembers the containers it is inside (to refuse a cycle); an error halfway
    must not leave them marked, or encoding them again would be refused as circular."""
    inner: dict[str, object] = {"set": {1, 2}}
    value = {"inner": inner, "list": [inner]}
    with pytest.raises(TypeError):
        dump_json(value)
    inner["set"] = [1, 2]
    assert dump_json(value) == '{"inner":{"set":[1,2]},"list":[{"set":[1,2]}]}'


def test_dump_json_in_another_thread() -> None:
    with ThreadPoolExecutor(2) as pool:
        texts = list(pool.map(dump_json, VALUES[:3]))
    assert texts == [dump_json(value) for value in VALUES[:3]]
