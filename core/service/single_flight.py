"""One pending LLM request, one call: concurrent readers of a session share the work in flight.

A chat answer waits for its grade in the stream; anything that reads the session meanwhile (the
learner's second message, a status command, the bot's own delivery) would otherwise grade it
again. Calls with the same key share one running coroutine; the result is recorded once by the
engine's expected-version rule, whoever appends first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from core.engine import SessionState

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Run ``work`` once per key at a time; callers arriving meanwhile await the same result."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable | None, work: Callable[[], Awaitable[T]]) -> T:
        if key is None:
            return await work()
        while (running := self._running.get(key)) is not None:
            await asyncio.wait([running])
            if not running.cancelled():
                return running.result()
            # The first caller was cancelled (e.g. its process is shutting down): run it here.
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            result = await work()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._running.pop(key, None)

    @property
    def in_flight(self) -> int:
        return len(self._running)


def pending_key(state: SessionState) -> tuple[str, str, str, int] | None:
    """What LLM work ``state`` waits for, as a key (None when it waits for nothing)."""
    current = state.current
    if current is None:
        return None
    if current.pending_attempt is not None:
        return (state.session_id, current.step_id, "grade", current.pending_attempt)
    if current.pending_hint is not None:
        return (state.session_id, current.step_id, "hint", current.pending_hint)
    if current.narrate and not current.narrated:
        return (state.session_id, current.step_id, "narrate", 0)
    return None
