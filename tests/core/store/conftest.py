"""Fixtures giving each contract test every store: in-memory, SQLite and PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` and is wiped (schema dropped and recreated) before each
test. When it cannot be reached the PostgreSQL tests fail, unless ``CURIOUSCORE_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.store.base import Store
from core.store.engine import create_store_engine, is_connectivity_error
from core.store.memory import InMemoryStore
from core.store.migrate import migrate
from core.store.sql import SqlStore

POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def reset_postgres() -> str:
    """Give the test PostgreSQL database an empty public schema and return its URL."""
    engine = create_store_engine(POSTGRES_URL, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    except Exception as error:
        if not is_connectivity_error(error):
            raise
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        if os.environ.get("CURIOUSCORE_SKIP_POSTGRES") == "1":
            pytest.skip(f"PostgreSQL at {where} is unreachable (CURIOUSCORE_SKIP_POSTGRES=1)")
        pytest.fail(
            f"PostgreSQL at {where} is unreachable ({type(error).__name__}); start it, point "
            "TEST_DATABASE_URL at it, or set CURIOUSCORE_SKIP_POSTGRES=1 to skip these tests",
            pytrace=False,
        )
    finally:
        await engine.dispose()
    return POSTGRES_URL


def sqlite_url_in(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'store.db'}"


SQL_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=SQL_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, not yet migrated SQLite or PostgreSQL database."""
    if request.param == "postgres":
        return await reset_postgres()
    return sqlite_url_in(tmp_path)


@pytest.fixture
async def postgres_url() -> str:
    """An empty, not yet migrated PostgreSQL database."""
    return await reset_postgres()


@pytest.fixture(params=[pytest.param("memory", id="memory"), *SQL_BACKENDS])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh, empty store of each kind (SQL ones migrated through ``migrate``)."""
    if request.param == "memory":
        yield InMemoryStore()
        return
    url = await reset_postgres() if request.param == "postgres" else sqlite_url_in(tmp_path)
    await migrate(url)
    sql_store = SqlStore(url)
    try:
        yield sql_store
    finally:
        await sql_store.close()


async def count_rows(url: str, table: str) -> int:
    """How many rows ``table`` holds now, read on a connection of its own."""
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            return int(
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            )
    finally:
        await engine.dispose()
