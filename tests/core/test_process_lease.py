"""Without REDIS_URL, a second process that would keep its own LLM limits refuses to start, naming
the fix; with REDIS_URL (or the offline provider) any number may run."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from core.bootstrap import ConfigurationError
from core.config import Settings
from core.process_lease import acquire_llm_lease
from tests.api.conftest import reset_postgres
from tests.redis_support import require_redis

ROOT = Path(__file__).resolve().parents[2]
REAL_LLM = {"llm_provider": "openai", "openai_api_key": "sk-test"}


async def test_a_second_process_on_the_same_sqlite_file_is_refused(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", **REAL_LLM)
    first = await acquire_llm_lease(settings)
    assert first is not None
    try:
        with pytest.raises(ConfigurationError, match="set REDIS_URL"):
            await acquire_llm_lease(settings)  # another open file description: another process
    finally:
        await first.release()
    second = await acquire_llm_lease(settings)  # free again once released
    assert second is not None
    await second.release()


async def test_no_lease_is_needed_with_redis_or_the_offline_provider_or_a_queue(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"
    assert await acquire_llm_lease(Settings(database_url=url)) is None  # offline
    assert (
        await acquire_llm_lease(Settings(database_url=url, redis_url="redis://x", **REAL_LLM))
        is None
    )
    assert await acquire_llm_lease(Settings(database_url=url, **REAL_LLM), calls_llm=False) is None


async def test_web_concurrency_above_one_without_redis_is_refused(tmp_path):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}", web_concurrency=2, **REAL_LLM
    )
    with pytest.raises(ConfigurationError, match="WEB_CONCURRENCY=2 without REDIS_URL"):
        await acquire_llm_lease(settings)


@pytest.mark.postgres
async def test_a_second_worker_without_redis_refuses_to_start_and_with_redis_runs():
    url = await reset_postgres()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # never called
    }
    env.pop("REDIS_URL", None)

    async def start(extra: dict[str, str]) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "worker",
            cwd=ROOT, env={**env, **extra},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    first = await start({})
    try:
        await _until_line(first, "worker started")
        second = await start({})
        out, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2
        text = out.decode()
        assert "another CuriousCore process already calls the LLM" in text
        assert "set REDIS_URL" in text
        first.terminate()
        await asyncio.wait_for(first.wait(), 60)

        redis_url = await require_redis()
        shared = [await start({"REDIS_URL": redis_url}) for _ in range(2)]
        for worker in shared:
            await _until_line(worker, "worker started")
        for worker in shared:
            worker.terminate()
            assert await asyncio.wait_for(worker.wait(), 60) == 0
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()


async def _until_line(process: asyncio.subprocess.Process, text: str) -> None:
    assert process.stdout is not None
    seen = []
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, f"the process ended before {text!r}: {b''.join(seen).decode()}"
        seen.append(line)
        if text.encode() in line:
            return
