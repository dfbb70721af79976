"""Alembic environment for the CuriousCore store.

:func:`core.store.migrate.migrate` passes an open connection in ``config.attributes``; run on its
own (``sqlalchemy.url`` set in the config), this file opens an async engine itself.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from core.store.engine import create_store_engine, writer
from core.store.migrate import lock_for_migration
from core.store.tables import metadata


def run_migrations_offline() -> None:
    """Emit the SQL for the upgrade instead of running it."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on ``connection`` (inside a transaction the caller commits)."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_with_own_engine(url: str) -> None:
    """Open a one-off engine for ``url`` and migrate through it."""
    engine = create_store_engine(url, pooled=False)
    try:
        async with writer(engine).begin() as connection:
            await lock_for_migration(connection)
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Migrate the given connection, or the configured URL when there is none."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    asyncio.run(run_migrations_with_own_engine(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
