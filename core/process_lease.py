"""One LLM-calling process per database unless the processes share their limits through Redis.

Without ``REDIS_URL`` the LLM rate limit, the daily budget reservations and the evaluation cache
live in process memory: a second API worker (or a second ``curiouscore worker``) would silently
double every limit. So each long-running process that calls a real LLM provider takes a lease
first and refuses to start without it, naming the fix:

* PostgreSQL: a session-level advisory lock on a connection held for the process's life (released
  by the server when the process dies, even on SIGKILL);
* SQLite: an exclusive ``flock`` on ``<database file>.lease`` (released by the kernel likewise);
* ``WEB_CONCURRENCY`` above 1 is refused up front.

With ``REDIS_URL`` set, or the offline provider (no rate limit, no cost), no lease is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from core.bootstrap import ConfigurationError
from core.config import Settings

log = logging.getLogger(__name__)

LLM_LEASE_KEY = 0x43435F4C4C  # "CC_LL"
FIX = (
    "set REDIS_URL so that every process shares the LLM rate limit, budget and cache "
    "(docs/scaling.md), or run a single process"
)


@dataclass(slots=True)
class ProcessLease:
    """Held until :meth:`release` (or the process's end)."""

    connection: Any = None  # PostgreSQL
    file: IO[bytes] | None = None  # SQLite

    async def release(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close(timeout=2)
            self.connection = None
        if self.file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


def needs_lease(settings: Settings, *, calls_llm: bool) -> bool:
    """Whether this process keeps LLM limits that another process would multiply."""
    return calls_llm and settings.redis_url is None and settings.llm_provider != "offline"


async def acquire_llm_lease(settings: Settings, *, calls_llm: bool = True) -> ProcessLease | None:
    """Take the lease when this process needs one (see the module); raise ConfigurationError when
    another process holds it. Returns None when no lease is needed."""
    if not needs_lease(settings, calls_llm=calls_llm):
        return None
    if settings.web_concurrency > 1:
        raise ConfigurationError(
            f"WEB_CONCURRENCY={settings.web_concurrency} without REDIS_URL would give each worker "
            f"its own LLM rate limit and budget: {FIX}"
        )
    url = make_url(settings.database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return await _postgres_lease(url.set(drivername="postgresql").render_as_string(False))
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        return _file_lease(Path(str(url.database)))
    return None  # an in-memory store lives in this process only


async def _postgres_lease(dsn: str) -> ProcessLease:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        held = await connection.fetchval("SELECT pg_try_advisory_lock($1)", LLM_LEASE_KEY)
    except BaseException:
        await connection.close()
        raise
    if not held:
        await connection.close()
        raise ConfigurationError(
            "another CuriousCore process already calls the LLM with its own in-process limits "
            f"against this database: {FIX}"
        )
    return ProcessLease(connection=connection)


def _file_lease(database: Path) -> ProcessLease:
    path = database.with_name(database.name + ".lease")
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigurationError(
            f"another CuriousCore process already calls the LLM with its own in-process limits "
            f"on {database} (pid in {path.name} holds it): {FIX}"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n".encode())
    handle.flush()
    return ProcessLease(file=handle)
