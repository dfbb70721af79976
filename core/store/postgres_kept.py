"""PostgreSQL's raw connections kept checked out between statements, instead of a pool trip each.

Every request's statement (the append call, the state read, the token check) checked a connection
out of SQLAlchemy's pool and back: a ``_ConnectionFairy`` with its weak-reference finalizer, the
pool's queue and its mutex, the checkout and checkin events, and a greenlet hop to give it back
(``greenlet_spawn``, in and out). That cost more CPU than the statement's own round trip: a keyed
read through the store took 86 µs of the process's CPU with 50 callers at once, 27 µs with the
connections kept (on this 2-core machine, the round trip itself ~25 µs; py-spy put the pool trip at
~3 % of the server's samples, as its stacks lose track across greenlet switches; the issue 17
benchmark's server CPU per request fell ~9 %, benchmarks/README.md). As the SQLite store does
(``core.store.sqlite_kept``), the raw path now keeps its connections checked out, and a statement
takes an idle one from a list.

The bounds and guarantees of the pool still hold:

* **At most ``POOL_SIZE`` connections** for the raw path, idle and in use together (the pool's
  steady size; ``MAX_OVERFLOW`` serves the cold SQLAlchemy statements), so a process still opens
  at most ``POOL_SIZE + MAX_OVERFLOW``: these connections are the pool's own, checked out of it.
  Not more (as ``PoolSlots`` before this): an overflow connection opened for a burst costs a
  backend start, SQLAlchemy's set-up, asyncpg's prepared statements and the append function
  compiled again, and the pool closed each as soon as it came back (15 to 46 per benchmark run).
  Beyond that, a statement waits for one in the order it came, for at most the pool timeout
  (``sqlalchemy.exc.TimeoutError``, which the store reports as ``StoreUnavailable``); a connection
  given back goes straight to the first waiter.
* **The SQLAlchemy side gets them back when it needs them:** before a SQLAlchemy checkout finds
  the pool empty, one idle kept connection is returned to it (:meth:`KeptPostgres.lend_to_pool`),
  so the cold statements never open an overflow connection, or wait, while the raw path sits on
  idle ones.
* **A broken connection is never reused:** one that failed for connectivity is invalidated by
  ``PostgresRaw`` (the pool discards it); so is one that comes back from a block that was
  cancelled, or still inside a transaction (see :meth:`KeptPostgres.give_back`). Either way its
  place is free for a new checkout. The request it failed does not fail with it: the statement
  goes on on a fresh connection (``KeptRead.renew`` in ``core.store.sql_base``): a read runs
  again, an append first finds out whether it committed (``core.store.sql_append``).
* **Idle ones are pinged (``POOL_PRE_PING``) where a lost connection would fail the block:** one
  that sat idle for ``PING_IDLE_SECONDS`` goes back to the pool and is checked out again, which
  pings it (``core.store.engine``) and replaces it when the server dropped it; so does every idle
  one once a kept connection failed for connectivity (a restarted server dropped them all). The
  reads and autocommit appends that survive a lost connection (above) take an idle one as it is
  (``NO_IDLE_PING``): a learner who pauses for more than a second between actions no longer pays
  a pool trip and a ping on each (a lone paced learner's requests: ~0.3 ms less each on this
  machine's loopback, a round trip more where the database is across a network); a connection
  the server dropped while idle is found by the statement, which then goes on on a fresh one.
* :meth:`KeptPostgres.close` returns them all before the engine is disposed.

A prepared statement invalidated by a migration recovers as before: the connection is the same
asyncpg connection, whose statement cache re-prepares it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine.interfaces import PoolProxiedConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from core.store import engine as store_engine
from core.store.sql_raw import PostgresRaw, pool_connection

# An idle_since that makes the next use ping the connection first.
_DUE_FOR_A_PING = float("-inf")
# ``ping_after`` for a block that survives a connection lost under it (a read that runs again, an
# append that settles, ``core.store.sql_base.KeptRead``): an idle connection is used as it is,
# however long it sat, and pinged only once a kept connection failed (``_DUE_FOR_A_PING``).
NO_IDLE_PING = float("inf")


class Kept:
    """One kept connection: the pool's handle on it and the raw statements' wrapper."""

    __slots__ = ("fairy", "idle_since", "raw")

    def __init__(self, fairy: PoolProxiedConnection) -> None:
        self.fairy = fairy
        self.raw = PostgresRaw(None, fairy, fairy.driver_connection)
        self.idle_since = time.monotonic()


def _fresh(kept: Kept, ping_after: float | None) -> bool:
    """Whether ``kept`` may serve as it is: idle for less than ``ping_after`` seconds (None:
    ``PING_IDLE_SECONDS``), and not due for a ping since a kept connection failed."""
    limit = store_engine.PING_IDLE_SECONDS if ping_after is None else ping_after
    return time.monotonic() - kept.idle_since < limit


class KeptPostgres:
    """The raw path's kept connections of ``engine``'s pool (see the module docstring)."""

    __slots__ = (
        "_closed",
        "_engine",
        "_idle",
        "_pool",
        "_timeout",
        "_timer",
        "_waiters",
        "held",
        "size",
        "url",
    )

    def __init__(self, engine: AsyncEngine) -> None:
        pool: Any = engine.pool
        self._engine = engine
        self.url = engine.url  # for error messages (AsyncEngine.url is a property each time)
        self._pool = pool
        self.size = int(pool.size())
        self._timeout = float(pool.timeout())
        # The most recently given back is taken first: its backend's caches are the warmest.
        self._idle: list[Kept] = []
        # Connections the raw path holds, idle or in use, and places handed to a waiter that is
        # checking its connection out: never more than ``size``.
        self.held = 0
        # Statements waiting, in the order they came, each with the time its wait ends; one timer
        # for the first of them (see _wait).
        self._waiters: deque[tuple[asyncio.Future[Kept | None], float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def take_idle(self, ping_after: float | None = None) -> Kept | None:
        """The idle kept connection :meth:`take` would return without waiting or pinging, or
        None (then call :meth:`take`).

        Not a coroutine: nearly every statement finds one idle, and awaiting ``take`` and
        ``give_back`` (two coroutine frames each way) cost more than the checks they made
        (``benchmarks/bench_asgi.py`` on PostgreSQL)."""
        idle = self._idle
        if idle:
            kept = idle[-1]
            if _fresh(kept, ping_after):
                idle.pop()
                return kept
        return None

    async def take(self, ping_after: float | None = None) -> Kept:
        """An idle kept connection (pinged first when it sat idle for ``ping_after`` seconds,
        by default ``PING_IDLE_SECONDS``; :data:`NO_IDLE_PING` for a block that survives a
        connection lost under it, which only pings after a failure); else a new one checked out
        of the pool while fewer than ``size`` are held; else the next one given back, waiting in
        turn for at most the pool timeout (then ``sqlalchemy.exc.TimeoutError``)."""
        idle = self._idle
        if idle:
            kept = idle.pop()
            if _fresh(kept, ping_after):
                return kept
            return await self._refreshed(kept)
        if self.held < self.size:
            self.held += 1
            return await self._check_out()
        kept_or_place = await self._wait()
        if kept_or_place is not None:
            return kept_or_place
        return await self._check_out()

    async def give_back(self, kept: Kept, *, cancelled: bool = False) -> None:
        """Keep ``kept`` for the next statement when it is fit to serve one (open, valid, outside
        any transaction, not left by a ``cancelled`` block); else free its place for a new
        checkout, and return it to the pool when the store is closing (one invalidated is back
        there already) or invalidate it when it was left inside a statement or a transaction.

        Invalidated, not returned: the pool's reset on return rolls back only what SQLAlchemy
        began, not a transaction begun on the driver connection (``PostgresRaw.begin``), and a
        cancelled statement may still be running on the server.
        """
        if not cancelled and self.keep(kept):
            return
        try:
            fairy = kept.fairy
            if not fairy.is_valid:
                # Invalidated: it failed for connectivity. The server may have restarted and
                # dropped the idle ones too: each is pinged before its next use rather than
                # failing a request of its own.
                for idle in self._idle:
                    idle.idle_since = _DUE_FOR_A_PING
                return
            driver = kept.raw.driver
            if cancelled or driver.is_closed() or driver.is_in_transaction():
                await greenlet_spawn(fairy.invalidate)
            else:
                await _to_pool(kept)
        finally:
            self._hand_on(None)

    def keep(self, kept: Kept) -> bool:
        """:meth:`give_back`'s usual case, not a coroutine: keep ``kept`` for the next statement
        when it is :meth:`fit` to serve one and say so; else (False) leave it to ``give_back``."""
        if not self.fit(kept):
            return False
        self._hand_on(kept)
        return True

    def fit(self, kept: Kept) -> bool:
        """Whether ``kept`` can serve another statement as it is."""
        driver = kept.raw.driver
        return (
            not self._closed
            and kept.fairy.is_valid
            and not driver.is_closed()
            and not driver.is_in_transaction()
        )

    async def lend_to_pool(self) -> None:
        """Before a SQLAlchemy checkout: when the pool has no idle connection and the raw path
        has one, return it to the pool, for that checkout to take instead of opening one."""
        if self._idle and self._pool.checkedin() == 0:
            kept = self._idle.pop(0)  # the one idle longest
            self.held -= 1
            await _to_pool(kept)

    async def close(self) -> None:
        """Return every idle connection to the pool (before the engine is disposed); the ones in
        use go back as they are given back."""
        self._closed = True
        idle, self._idle = self._idle, []
        self.held -= len(idle)
        for kept in idle:
            await _to_pool(kept)

    def idle(self) -> int:
        """How many kept connections are idle."""
        return len(self._idle)

    async def _check_out(self) -> Kept:
        """A new kept connection, for a place already counted in ``held`` (freed on failure)."""
        try:
            fairy = await pool_connection(self._engine)
        except BaseException:
            self._hand_on(None)
            raise
        return Kept(fairy)

    async def _refreshed(self, kept: Kept) -> Kept:
        """``kept`` sat idle too long: through the pool again, whose checkout pings it."""
        try:
            await _to_pool(kept)
        except BaseException:
            self._hand_on(None)
            raise
        return await self._check_out()

    def _hand_on(self, kept: Kept | None) -> None:
        """A connection (or, None, just its place) given back: to the first statement still
        waiting, else to the idle ones (or, None, to the free places)."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()[0]
            if not waiter.done():
                waiter.set_result(kept)
                return
        if kept is None:
            self.held -= 1
        else:
            kept.idle_since = time.monotonic()
            self._idle.append(kept)

    async def _wait(self) -> Kept | None:
        """Wait in turn for a connection given back, or (None) for a place to check one out.

        Under load most statements wait here a moment, so the wait is bounded without a timer of
        its own: waits end in the order they began, so one timer, set for the first waiter's end,
        expires whoever is due when it fires and is set again for the next (a timer handle made
        and cancelled per wait was a measurable share of the wait's cost)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Kept | None] = loop.create_future()
        self._waiters.append((waiter, loop.time() + self._timeout))
        if self._timer is None:
            self._timer = loop.call_at(self._waiters[0][1], self._expire_due)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._hand_on(waiter.result())  # handed over just as it was cancelled: pass it on
            # else: still queued, done; _hand_on and _expire_due skip it
            raise

    def _expire_due(self) -> None:
        """Fail the waits that have lasted the pool timeout; set the timer for the next one."""
        self._timer = None
        waiters = self._waiters
        loop = asyncio.get_running_loop()
        now = loop.time()
        while waiters and (waiters[0][0].done() or waiters[0][1] <= now):
            waiter = waiters.popleft()[0]
            if not waiter.done():
                waiter.set_exception(
                    exc.TimeoutError(
                        f"the raw path's {self.size} pooled connections stayed busy for"
                        f" {self._timeout:g} s"
                    )
                )
        if waiters:
            self._timer = loop.call_at(waiters[0][1], self._expire_due)


async def _to_pool(kept: Kept) -> None:
    """Return ``kept`` to the pool as if it had been idle there since it was last used, so that
    the pool's pre-ping (``core.store.engine``) judges its idleness right."""
    info = kept.fairy.info
    await greenlet_spawn(kept.fairy.close)
    store_engine.mark_idle_since(info, kept.idle_since)
