"""Turn frozen dataclasses into JSON-able values (for events, snapshots and views).

This runs on every request (the view, each event, every snapshot), so the dataclass field names
are looked up once per class and the common types are dispatched on ``type(value)`` before the
general ``isinstance`` checks.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

_SCALARS = frozenset({str, int, float, bool, type(None)})
# dataclass -> its field names, in declaration order (filled on first use; classes never change)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_plain(value: Any) -> Any:
    """Return ``value`` as dicts, lists and scalars; tuples become lists, enums their values."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: to_plain(getattr(value, name)) for name in names}
    if kind is tuple or kind is list:
        return [to_plain(v) for v in value]
    return _other_to_plain(value)


def _other_to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
        _FIELD_NAMES[type(value)] = names
        return {name: to_plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value
