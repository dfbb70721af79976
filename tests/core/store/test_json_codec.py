"""The canonical JSON text is exactly ``json.dumps`` with the canonical options (chains hash it)."""

from __future__ import annotations

import json
import math

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
