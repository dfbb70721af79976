"""Turn frozen dataclasses into JSON-able values (for events, snapshots and views).

This runs on every request (the view, each event, every snapshot), so each class's converter is
built once, on first use, and dispatched on ``type(value)``; the common scalars are returned as
they are without a call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import Enum
from operator import attrgetter
from typing import Any

_SCALARS = frozenset({str, int, float, bool, type(None)})
Converter = Callable[[Any], Any]
# type -> how to convert a value of it (filled on first use; classes never change)
_CONVERTERS: dict[type, Converter] = {}


def to_plain(value: Any) -> Any:
    """Return ``value`` as dicts, lists and scalars; tuples become lists, enums their values."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = _converter(kind, value)
    return convert(value)


def _converter(kind: type, value: Any) -> Converter:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_converter(tuple(f.name for f in dataclasses.fields(value)))
    if isinstance(value, tuple | list):
        return _sequence_to_plain
    if isinstance(value, Enum):
        return _enum_value
    return _as_is


def _dataclass_converter(names: tuple[str, ...]) -> Converter:
    values_of = attrgetter(*names)
    if len(names) == 1:
        name = names[0]
        return lambda value: {name: to_plain(getattr(value, name))}

    def convert(value: Any) -> dict[str, Any]:
        return {
            name: item if type(item) in _SCALARS else to_plain(item)
            for name, item in zip(names, values_of(value), strict=True)
        }

    return convert


def _sequence_to_plain(value: Any) -> list[Any]:
    return [item if type(item) in _SCALARS else to_plain(item) for item in value]


def _enum_value(value: Any) -> Any:
    return value.value


def _as_is(value: Any) -> Any:
    return value
