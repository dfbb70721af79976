"""Open the store named by a URL: the one place that chooses between implementations."""

from __future__ import annotations

from core.store.base import Store
from core.store.engine import async_url
from core.store.integrity import ChainKeys
from core.store.memory import InMemoryStore
from core.store.migrate import migrate
from core.store.sql import SqlStore

MEMORY_URL = "memory://"


async def open_store(
    url: str,
    *,
    auto_migrate: bool | None = None,
    read_url: str | None = None,
    pool_size: int = 10,
    max_overflow: int = 20,
    pool_pre_ping: bool = True,
    chain_keys: ChainKeys | None = None,
) -> Store:
    """Given a store URL, return a ready store.

    ``memory://`` gives an :class:`InMemoryStore`; a SQLite or PostgreSQL URL gives a
    :class:`SqlStore`. ``auto_migrate`` None means migrate SQLite (a local file should just work)
    but not PostgreSQL, whose schema is upgraded by a deploy step running ``migrate``.
    ``read_url`` names a read replica (never migrated here); the pool options apply to PostgreSQL.
    ``chain_keys`` sign and verify the event chain (``EVENT_HMAC_KEY``, ``EVENT_HMAC_KEYS``).
    """
    if url == MEMORY_URL:
        return InMemoryStore(chain_keys=chain_keys)
    if auto_migrate is None:
        auto_migrate = async_url(url).get_backend_name() == "sqlite"
    if auto_migrate:
        await migrate(url)
    return SqlStore(
        url,
        read_url=read_url or None,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=pool_pre_ping,
        chain_keys=chain_keys,
    )
