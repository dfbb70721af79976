"""The collector in a long-running server: startup's objects frozen, young collections rarer.

A server process imports FastAPI, SQLAlchemy, Pydantic and the app (some 180,000 objects that live
as long as it does). Python's full collection, which the steady churn of requests triggers every
few seconds, walked all of them each time: 140 ms of CPU per collection on the issue 17 benchmark,
6 % of the server's CPU and a pause every in-flight request waited out. Frozen (``gc.freeze``),
they are never scanned again; what requests create is collected as before.

The young generation is collected when tracked objects allocated minus those freed pass a
threshold (700 by default): with 50 requests in flight that happened ~60 times a second, each time
walking the live objects of every request in flight and promoting them to be walked again. At
10,000 it happens a few times a minute under the same load (2.5 % of the server's CPU → ~0.1 %);
most of a request's objects are freed by reference counting before, and the cyclic garbage the
collector is for waits a little longer, bounded by the same threshold.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def prepare_collector_for_serving() -> int:
    """Collect what startup left behind, freeze the survivors and raise the young generation's
    threshold; returns how many objects are frozen.

    Call it once the process has imported what it serves with, right before serving; frozen
    objects are never collected, so not in a process that builds and drops apps (tests)."""
    gc.collect()
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *older)
    return gc.get_freeze_count()
