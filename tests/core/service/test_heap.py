"""A server's collector: startup's objects frozen (garbage collected first), young collections rarer."""

from __future__ import annotations

import gc
import subprocess
import sys

from core.service.heap import YOUNG_THRESHOLD


def test_startup_objects_are_frozen_and_garbage_is_not() -> None:
    # In a process of its own: frozen objects stay frozen (never in the test process).
    script = """
import gc, weakref
from core.service.heap import YOUNG_THRESHOLD, prepare_collector_for_serving

class Node:
    pass

kept = Node()
cycle = Node(); cycle.me = cycle
gone = weakref.ref(cycle)
del cycle
frozen = prepare_collector_for_serving()
assert gone() is None, "garbage left before the freeze would never be collected"
assert frozen == gc.get_freeze_count() > 1000
assert not any(o is kept for o in gc.get_objects()), "a startup object still scanned"
assert gc.get_threshold()[0] == YOUNG_THRESHOLD
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert gc.get_freeze_count() == 0  # this process was left alone
    assert gc.get_threshold()[0] != YOUNG_THRESHOLD
