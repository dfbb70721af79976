"""Waiting for a condition in tests, never for a fixed time (CI is a busy 2-core machine)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def until(condition: Callable[[], Any], what: str, within: float = 60) -> Any:
    """Poll ``condition`` (plain or async) until it returns something truthy, and return that;
    fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
