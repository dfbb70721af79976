"""The raw path's slots (``core.store.sql_base.PoolSlots``): at most ``POOL_SIZE`` holders, the
others served in the order they came, for at most the pool timeout, and no slot lost to a request
cancelled while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from core.store.engine import create_store_engine
from core.store.sql_base import PoolSlots


@pytest.fixture
async def engine_of_two() -> AsyncIterator[AsyncEngine]:
    """An engine with a pool of two (never connected: the slots only read its sizes)."""
    engine = create_store_engine(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none", pool_size=2, pool_timeout=0.3
    )
    yield engine
    await engine.dispose()


async def test_waiters_get_slots_in_the_order_they_came(engine_of_two: AsyncEngine) -> None:
    slots = PoolSlots(engine_of_two)
    await slots.take()
    await slots.take()
    served: list[int] = []

    async def wait(number: int) -> None:
        await slots.take()
        served.append(number)

    waiting = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)  # every waiter queued
    for _ in range(3):
        slots.give_back()
    await asyncio.gather(*waiting)
    assert served == [0, 1, 2]


async def test_a_wait_longer_than_the_pool_timeout_fails_and_keeps_no_place(
    engine_of_two: AsyncEngine,
) -> None:
    slots = PoolSlots(engine_of_two)
    await slots.take()
    await slots.take()
    with pytest.raises(exc.TimeoutError, match=r"2 pooled connections stayed busy for 0\.3 s"):
        await slots.take()
    slots.give_back()
    await asyncio.wait_for(slots.take(), 1)  # the expired waiter did not take it


async def test_a_request_cancelled_while_waiting_loses_no_slot(engine_of_two: AsyncEngine) -> None:
    slots = PoolSlots(engine_of_two)
    await slots.take()
    await slots.take()
    cancelled = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    slots.give_back()
    await asyncio.wait_for(slots.take(), 1)


async def test_a_slot_handed_to_a_request_cancelled_at_that_moment_passes_on(
    engine_of_two: AsyncEngine,
) -> None:
    slots = PoolSlots(engine_of_two)
    await slots.take()
    await slots.take()
    first = asyncio.create_task(slots.take())
    second = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give_back()  # handed to the first waiter, which is cancelled before it runs
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)  # the slot went on to the next waiter
