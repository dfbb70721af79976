"""Snapshots of a session's state, written by pydantic-core's encoder.

A snapshot is the state as JSON (~3.6 KB at the end of a short session), written every few
events: with building its mapping, the largest single cost of a request in process (~11 % of the
issue flow's instructions, two thirds of it json's C encoder: a new string per key and value and a
sort of every mapping). pydantic-core's encoder writes the same mapping in about a third of the
instructions, and the snapshot carries that text to the store (``EncodedMapping``), which writes
it as it is. A snapshot is only ever read back (the service's load, ``db verify``, which compare
decoded values), so its text need not be canonical JSON: it differs only in how a float with an
exponent is written (``1e-7`` for ``1e-07``), the same number once decoded.
"""

from __future__ import annotations

from pydantic_core import to_json

from core.engine import SessionState
from core.engine.state import STATE_SCHEMA_VERSION, state_to_dict
from core.store.base import Snapshot
from core.store.json_codec import EncodedMapping


def snapshot_of(state: SessionState) -> Snapshot:
    """Given a state, return its snapshot: ``state_to_dict(state)``, carrying a JSON text that
    decodes to it."""
    data = state_to_dict(state)
    # "constants": NaN and infinities as json writes them (pydantic's default writes null).
    text = to_json(data, inf_nan_mode="constants").decode()
    return Snapshot(
        state.session_id, state.version, STATE_SCHEMA_VERSION, EncodedMapping(data, text)
    )
