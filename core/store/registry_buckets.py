"""Which registration chain a new stream joins: the store's choice, not the stream id's.

Every stream is registered in one of the registry buckets' MAC chains (``core.store.integrity``);
``db verify`` reads each head's stored bucket and checks the registration MAC, which covers it, so
any bucket verifies, and streams registered by the old rule (``crc32(id) % 16``) verify as before.
What the choice decides is contention. On PostgreSQL a process chains a create optimistically
from the tail it last saw of the bucket, one create of a bucket at a time (``sql_append``); a
create in a bucket another process moved meanwhile is refused and chained again (a round trip
more, under the bucket's row lock), and a second create of the same bucket in the same process
waits for the first. With the bucket derived from the id, two workers refused each other on
almost half of their creates, and a process's concurrent creates queued on a shared bucket.

So each process walks the buckets round robin from an offset of its own (random: processes start
apart), skips a bucket one of its own creates holds, and skips for a while (``AVOID_CREATES`` of its
creates) a bucket where it was refused: processes that keep refusing each other drift onto
different buckets, and every process still spreads its streams over all the buckets it does not
avoid, so no bucket is left with a handful of streams that could be deleted together with its
tail unseen.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# Buckets new streams are registered in (the old rule's 16 among them). Room for every create a
# few processes have in flight at once (a process runs at most POOL_SIZE, 20, appends at a time).
CHOSEN_BUCKETS = 64
# How many of its own creates a process skips a bucket it was refused in: a bucket another process
# keeps using costs this process about one refusal per AVOID_CREATES creates.
AVOID_CREATES = 16 * CHOSEN_BUCKETS


class RegistryBuckets:
    """One process's choice of registry bucket for its new streams (see the module docstring)."""

    __slots__ = ("_avoid_until", "_count", "_creates", "_cursor")

    def __init__(self, count: int = CHOSEN_BUCKETS, offset: int | None = None) -> None:
        if count < 1:
            raise ValueError("at least one registry bucket")
        self._count = count
        self._cursor = random.randrange(count) if offset is None else offset % count  # noqa: S311
        self._creates = 0
        self._avoid_until = [0] * count

    def choose(self, busy: Callable[[int], bool] = lambda bucket: False) -> int:
        """Return the bucket for the next new stream: the next one round robin that ``busy``
        (this process's creates in flight) does not hold and that this process does not avoid;
        else the free one avoided longest ago; else (all busy) the next one, to queue on."""
        count, cursor, creates = self._count, self._cursor, self._creates
        avoid_until = self._avoid_until
        best: int | None = None
        for step in range(count):
            bucket = (cursor + step) % count
            if busy(bucket):
                continue
            if avoid_until[bucket] <= creates:
                best = bucket
                break
            if best is None or avoid_until[bucket] < avoid_until[best]:
                best = bucket
        chosen = cursor if best is None else best
        self._cursor = (chosen + 1) % count
        self._creates = creates + 1
        return chosen

    def refused(self, bucket: int) -> None:
        """Another process registered in ``bucket`` since this one last did: avoid it a while."""
        self._avoid_until[bucket] = self._creates + AVOID_CREATES
