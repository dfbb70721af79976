"""Results of pure functions of immutable objects, remembered by the objects' identity.

A session's state carries its transcript entries from one version to the next as the same
objects, so whatever is worked out from an entry (its explanation in the view, its JSON in the API)
is worked out again for every view of the session although it cannot have changed. Keying such a
result by the objects' *values* is not sound for these classes: ``1 == 1.0 == True``, so two
entries that compare equal can still be written differently (a choice ``true`` or ``1``, a score
``1`` or ``1.0``). Their identity is: a memo holds the objects it was given, so while a result is
remembered no other object can take their ``id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

R = TypeVar("R")
K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(dict[K, V]):
    """A dict of at most ``size`` entries that starts again empty when full, for caches read
    with ``get`` (dict's own, in C) and filled with :meth:`keep` on a miss.

    Starting again empty is cheaper than dropping only the oldest entry on every miss once full:
    a plain dict finds its first key by skipping every slot deleted since it last grew (3.5 µs a
    miss once 8,192 are held), and an ``OrderedDict``'s order costs ~20 % more a call than a
    dict; the entries dropped at once are each worked out again once, when next asked for."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a bounded dict holds at least one entry")
        super().__init__()
        self.size = size

    def keep(self, key: K, value: V) -> V:
        """Add ``key``'s ``value`` (after emptying a full dict) and return the value."""
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value


class IdentityMemo(Generic[R]):
    """At most ``size`` results, each kept with the objects it was worked out from (the least
    recently used dropped first)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an identity memo holds at least one result")
        self._size = size
        self._results: dict[tuple[int, ...], tuple[tuple[object, ...], R]] = {}

    def get(self, key: tuple[Any, ...], work: Callable[..., R]) -> R:
        """The result remembered for exactly the objects in ``key``, else ``work(*key)``,
        remembered."""
        ids = tuple(map(id, key))
        results = self._results
        kept = results.pop(ids, None)
        if kept is None:  # (a kept result holds its objects: their ids are theirs alone)
            kept = (key, work(*key))
            if len(results) >= self._size:
                del results[next(iter(results))]
        results[ids] = kept
        return kept[1]

    def __len__(self) -> int:
        return len(self._results)


class ObjectMemo(Generic[R]):
    """At most ``size`` results of a function of one immutable object, each kept with its object:
    :class:`IdentityMemo` for a single key object, without its key tuple and least-recently-used
    bookkeeping, for results read several times a request.

    A full memo starts again empty (:class:`BoundedDict`)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("an object memo holds at least one result")
        self._results: BoundedDict[int, tuple[object, R]] = BoundedDict(size)

    def get(self, item: Any, work: Callable[[Any], R]) -> R:
        """The result remembered for exactly ``item``, else ``work(item)``, remembered."""
        results = self._results
        kept = results.get(id(item))
        if kept is not None and kept[0] is item:
            return kept[1]
        result = work(item)
        results.keep(id(item), (item, result))  # (replaces a dropped object's result under its id)
        return result

    def __len__(self) -> int:
        return len(self._results)
