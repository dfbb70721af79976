"""Turn frozen dataclasses into JSON-able values (for events, snapshots and views)."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any


def to_plain(value: Any) -> Any:
    """Return ``value`` as dicts, lists and scalars; tuples become lists, enums their values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value
