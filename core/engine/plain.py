"""Turn frozen dataclasses into JSON-able values (for events, snapshots and views).

This runs on every request (the view, each event, every snapshot), so each class's converter is
built once, on first use, and dispatched on ``type(value)``; the common scalars are returned as
they are without a call.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable
from enum import Enum
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


def to_sorted_plain(value: Any) -> Any:
    """:func:`to_plain`, each dataclass's fields in the order of their names: the order canonical
    JSON (``sort_keys``) writes them in. For snapshots, whose encoder keeps the order it is given
    (``core/service/snapshots.py``), so their text has that order too."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    convert = _SORTED_CONVERTERS.get(kind)
    if convert is None:
        convert = _SORTED_CONVERTERS[kind] = _converter(kind, value, sort=True)
    return convert(value)


# type -> how to_sorted_plain converts a value of it (filled on first use)
_SORTED_CONVERTERS: dict[type, Converter] = {}


def _converter(kind: type, value: Any, *, sort: bool = False) -> Converter:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value))
        return _dataclass_converter(tuple(sorted(names)) if sort else names, sort=sort)
    if isinstance(value, tuple | list):
        return _sequence_to_sorted_plain if sort else _sequence_to_plain
    if isinstance(value, Enum):
        return _enum_value
    return _as_is


def _dataclass_converter(names: tuple[str, ...], *, sort: bool = False) -> Converter:
    """A function returning ``{name: to_plain(value.name), ...}`` for these field names, written
    out as one dict display (the way ``dataclasses`` writes ``__init__``): a comprehension costs
    a frame per object, which was half the time of converting a view. Scalars skip the call.
    ``sort``: nested values are converted by :func:`to_sorted_plain`."""
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name):  # field names; never user data
            raise ValueError(f"not a field name: {name!r}")
    # An empty tuple (most transcript entries' items and flags, in every snapshot) is written as
    # [] without the call: CPython has one empty tuple, so ``is`` finds it; any other empty
    # sequence takes the call and gives the same []. The use cases in process: 979k → 967k
    # instructions per request (``bench_asgi --callgrind --through service``).
    items = "".join(
        f"{name!r}: _v if type(_v := value.{name}) in _SCALARS"
        f" else [] if _v is _EMPTY else to_plain(_v), "
        for name in names
    )
    namespace: dict[str, Any] = {
        "_SCALARS": _SCALARS,
        "_EMPTY": (),
        "to_plain": to_sorted_plain if sort else to_plain,
    }
    exec(f"def convert(value):\n    return {{{items}}}\n", namespace)  # noqa: S102
    convert: Converter = namespace["convert"]
    return convert


def _sequence_to_plain(value: Any) -> list[Any]:
    return [item if type(item) in _SCALARS else to_plain(item) for item in value]


def _sequence_to_sorted_plain(value: Any) -> list[Any]:
    return [item if type(item) in _SCALARS else to_sorted_plain(item) for item in value]


def _enum_value(value: Any) -> Any:
    return value.value


def _as_is(value: Any) -> Any:
    return value
