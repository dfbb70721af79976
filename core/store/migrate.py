"""Upgrade a database to the latest schema with the Alembic migrations shipped in this package.

No ``alembic.ini`` is involved: the configuration is built here, with ``script_location`` an
absolute path next to this file, so it works from a checkout and from an installed package.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.engine import create_store_engine, unavailable_on_connectivity_errors, writer

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Key of the transaction-scoped PostgreSQL advisory lock held while upgrading.
MIGRATION_LOCK_KEY = 0x43435F4D47  # "CC_MG"
# How long a SQLite migration waits for another process's upgrade to finish.
MIGRATION_WAIT_MS = 60_000

# Alembic keeps the running migration in module globals (alembic.context, alembic.op), so two
# upgrades interleaving in one process would trample each other: run them one at a time per loop.
_alembic_locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at this package's migrations."""
    config = Config()
    # Config values go through ConfigParser interpolation, so a literal "%" must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def current_head() -> str:
    """Return the revision id of the newest migration."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def migrate(url: str) -> None:
    """Given a SQLite or PostgreSQL URL, upgrade that database to the newest schema.

    Safe to run repeatedly and from several processes at once: the whole upgrade is one
    transaction that first takes a PostgreSQL advisory lock (SQLite: BEGIN IMMEDIATE), so a second
    worker waits and then finds nothing left to do. Raises ``StoreUnavailable`` when the database
    cannot be reached.
    """
    lock = _alembic_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    # A SQLite worker waits behind another's whole upgrade, which on a busy machine can take
    # longer than a request's busy timeout.
    engine = create_store_engine(url, pooled=False, sqlite_busy_timeout_ms=MIGRATION_WAIT_MS)
    try:
        with unavailable_on_connectivity_errors(engine.url):
            async with lock, writer(engine).begin() as connection:
                await lock_for_migration(connection)
                await connection.run_sync(_upgrade_to_head)
    finally:
        await engine.dispose()


async def lock_for_migration(connection: AsyncConnection) -> None:
    """On PostgreSQL, wait for the advisory lock that serialises upgrades until this transaction ends.

    Taken before Alembic starts, so a waiting worker has not yet read the version table.
    """
    if connection.dialect.name == "postgresql":
        key = literal(MIGRATION_LOCK_KEY, BigInteger)
        await connection.execute(select(func.pg_advisory_xact_lock(key)))


def _upgrade_to_head(connection: Connection) -> None:
    config = alembic_config()
    # env.py runs on this connection, inside the transaction opened by migrate().
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
