"""Component ids survive a round trip and fit Discord's 100-character limit."""

from __future__ import annotations

import uuid

import pytest

from bots.common.ids import ComponentId, decode, encode


def test_ids_round_trip_with_a_uuid_session_and_a_long_step_id():
    component = ComponentId(str(uuid.uuid4()), "s" * 64, "answer", "12")
    raw = encode(component)
    assert len(raw) <= 100
    assert decode(raw) == component


@pytest.mark.parametrize("raw", ["", "cc", "xx:a:b:c", "cc:a:b:zz", "cc:~!!:b:a", "other:id"])
def test_foreign_or_broken_ids_decode_to_none(raw):
    assert decode(raw) is None


def test_an_id_that_cannot_fit_is_refused():
    with pytest.raises(ValueError, match="limit"):
        encode(ComponentId("x" * 100, "step", "hint"))
