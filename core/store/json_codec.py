"""Deterministic JSON for stored event data, snapshots and challenge definitions.

Every store (in-memory included) goes through these two functions, so what a caller gets back is
exactly what a database would give: plain JSON types, never the caller's own mutable objects.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from typing import Any

# Built once: ``json.dumps`` with options builds an encoder on every call, which cost as much as
# encoding a small event's data (a request encodes several: data, chain digests, snapshot).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# json's C encoder (None without the accelerator, as ``json`` itself allows).
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)


class _Encoder(threading.local):
    """``canonical``'s C encoder (``_CANONICAL``'s by default), built once per thread.

    ``JSONEncoder.encode`` still builds a C encoder object (and a closure) on every call, a third
    of the time of encoding a chain digest's six keys, and a request encodes about six such small
    mappings. The encoder holds the dict of containers being encoded (to refuse a circular
    value, as ``json`` does): hence one per thread, emptied after an error left entries in it."""

    def __init__(self, canonical: json.JSONEncoder = _CANONICAL) -> None:
        self.markers: dict[int, Any] = {}
        self.encode: Callable[[Any, int], list[str]] | None = None
        if _C_MAKE_ENCODER is not None:
            self.encode = _C_MAKE_ENCODER(
                self.markers,
                canonical.default,
                encode_basestring,
                None,
                _CANONICAL.key_separator,
                _CANONICAL.item_separator,
                True,  # sort_keys
                False,  # skipkeys
                True,  # allow_nan
            )


def canonical_dumper(
    default: Callable[[Any], Any] | None = None,
) -> Callable[[dict[str, Any]], str]:
    """Return a function that, given a JSON-able mapping, returns its canonical text (sorted keys,
    compact, UTF-8 kept) from a C encoder built once per thread. ``default`` writes a value JSON
    has no type for (request digests, whose arguments are not all JSON); without it such a value
    is a ``TypeError``, as with ``json``. An :class:`EncodedMapping` is written as the text it
    carries (a snapshot's: it decodes to the same value)."""
    canonical = (
        _CANONICAL
        if default is None
        else json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
        )
    )
    encoder = _Encoder(canonical)

    def dump(value: dict[str, Any]) -> str:
        if type(value) is EncodedMapping:
            return value.text
        encode = encoder.encode
        if encode is None:  # no C accelerator (another interpreter): json's own way
            return canonical.encode(value)
        try:
            return "".join(encode(value, 0))
        except BaseException:
            encoder.markers.clear()
            raise

    return dump


class EncodedMapping(dict[str, Any]):
    """A JSON-able mapping that carries a JSON text of itself, which the dumpers return as it is:
    for a value a faster encoder already wrote (a snapshot, ``core/service/snapshots.py``). The
    builder answers for ``text`` decoding to exactly this mapping (``load_json(text) == self``,
    tested); it need not be canonical, so it is for what is read back, never for what is hashed.
    The mapping refuses to change after it is built (its text would be stale)."""

    __slots__ = ("text",)

    def __init__(self, value: dict[str, Any], text: str) -> None:
        super().__init__(value)
        self.text = text

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("an encoded mapping does not change (its text would be stale)")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse


# Given a JSON-able mapping, its canonical text: what every store writes.
dump_json = canonical_dumper()


def load_json(text: str) -> dict[str, Any]:
    """Given text written by :func:`dump_json`, return the mapping it encodes."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError(f"stored JSON is a {type(value).__name__}, expected an object")
    return value


def hashable_text(value: dict[str, Any], text: str) -> str:
    """Given a mapping and its :func:`dump_json` text, return the canonical text of what a reader
    decodes from it: ``text`` itself, unless some mapping inside has a key that is not a string.

    Such a key is written as a string but sorted as what it was (``{10: …, 9: …}`` is written 9
    first, while its decoded ``{"10": …, "9": …}`` sorts "10" first), so only then does the text
    differ from the decoded value's; an event's digest covers the decoded value (what ``db verify``
    reads back). Checking the keys costs a fraction of decoding the text and encoding it again.
    """
    return text if _string_keys(value) else dump_json(load_json(text))


def _string_keys(value: dict[str, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """Whether every mapping in ``value`` (itself included) has keys of type ``str`` only (a
    subclass's, an enum's, counts as not: the caller then takes the slow, certain way).

    Every event's data goes through here on each append, so a container's keys, and whether its
    values hold a container at all, are checked by ``frozenset.issuperset`` over their types (a
    loop in C), not one item at a time in Python: ~6,000 instructions less per append of the
    issue flow (``benchmarks/bench_append_call.py``'s appends through ``EncodedAppend.of``; ~1 %
    of the append). ``test_digest_splice`` compares the answers with the item-at-a-time walk."""
    if isinstance(value, dict):
        if not _STR.issuperset(map(type, value)):
            return False
        items: Iterable[Any] = value.values()
    else:
        items = value
    if _SCALARS.issuperset(map(type, items)):  # no container inside: the common leaf
        return True
    for item in items:  # noqa: SIM110 (a loop, not all()'s generator: per container)
        if isinstance(item, _CONTAINERS) and not _string_keys(item):
            return False
    return True


_CONTAINERS = (dict, list, tuple)  # what the encoder writes as objects and arrays
_STR = frozenset((str,))
# Types that are never a container (whatever else a value is, the loop looks at it).
_SCALARS = frozenset((str, int, float, bool, type(None)))
