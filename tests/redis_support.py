"""The Redis that tests share (``TEST_REDIS_URL``): every test uses its own key prefix and never
flushes anything. When Redis cannot be reached the Redis tests fail, unless
``CURIOUSCORE_SKIP_REDIS=1``."""

from __future__ import annotations

import os
import uuid

import pytest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_prefix() -> str:
    return f"curiouscore-test:{uuid.uuid4().hex}:"


async def require_redis() -> str:
    """Return the test Redis URL once it answers a PING (else fail or skip, as configured)."""
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        if os.environ.get("CURIOUSCORE_SKIP_REDIS") == "1":
            pytest.skip(f"Redis at {REDIS_URL} is unreachable (CURIOUSCORE_SKIP_REDIS=1)")
        pytest.fail(
            f"Redis at {REDIS_URL} is unreachable ({type(error).__name__}); start it, point "
            "TEST_REDIS_URL at it, or set CURIOUSCORE_SKIP_REDIS=1 to skip these tests",
            pytrace=False,
        )
    finally:
        await client.aclose()
    return REDIS_URL


async def delete_prefix(url: str, prefix: str) -> None:
    """Remove this test's keys (only those under its own prefix)."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
