"""CODE_RUNNER=judge0 against a local fake Judge0 server, through its HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.bootstrap import build_services
from core.config import Settings
from core.sandbox.factory import build_code_runner
from core.sandbox.judge0 import Judge0Runner
from core.sandbox.models import CodeJob, CodeTest, RunnerError, SandboxUnavailable
from core.store import InMemoryStore
from tests.core.sandbox.fake_judge0 import FakeJudge0


@pytest.fixture
async def judge0() -> AsyncIterator[FakeJudge0]:
    server = FakeJudge0()
    await server.start()
    yield server
    await server.stop()


async def test_a_python_job_runs_on_judge0_with_the_limits(judge0: FakeJudge0) -> None:
    runner = build_code_runner(Settings(code_runner="judge0", judge0_url=judge0.url))
    assert isinstance(runner, Judge0Runner)
    await runner.check()
    job = CodeJob(
        "python",
        "def f(x):\n    print('got', x)\n    return x + 1",
        (CodeTest("ok", "assert f(1) == 2"), CodeTest("bad", "assert f(1) == 3, 'nope'")),
        time_limit_seconds=2,
        memory_limit_mb=64,
    )
    result = await runner.run(job)
    assert result.sandbox == "judge0" and result.status == "ok"
    assert [(t.id, t.passed) for t in result.tests] == [("ok", True), ("bad", False)]
    assert result.tests[1].message == "nope" and "got 1" in result.tests[0].output
    sent = judge0.submissions[0]
    assert sent["language_id"] == 71 and sent["cpu_time_limit"] == 2
    assert sent["memory_limit"] == (64 + 48) * 1024 and sent["enable_network"] is False
    await runner.aclose()


async def test_a_sql_job_and_a_timeout_on_judge0(judge0: FakeJudge0) -> None:
    runner = Judge0Runner(judge0.url)
    sql = CodeJob(
        "sql",
        "SELECT x FROM t",
        (CodeTest("result"),),
        setup="CREATE TABLE t (x); INSERT INTO t VALUES (1);",
        solution="SELECT x FROM t",
    )
    assert (await runner.run(sql)).tests[0].passed
    loop = CodeJob("python", "while True: pass", (CodeTest("t", "pass"),), time_limit_seconds=1)
    result = await runner.run(loop)
    assert result.status == "timeout" and "time limit" in result.tests[0].message
    await runner.aclose()


async def test_an_unreachable_or_failing_judge0_is_an_operator_error(judge0: FakeJudge0) -> None:
    judge0.fail_with = 503
    runner = Judge0Runner(judge0.url)
    with pytest.raises(RunnerError, match="Judge0 request failed"):
        await runner.run(CodeJob("python", "x = 1", (CodeTest("t", "pass"),)))
    await runner.aclose()
    gone = Judge0Runner("http://127.0.0.1:9")
    with pytest.raises(SandboxUnavailable, match="JUDGE0_URL"):
        await gone.check()
    await gone.aclose()
    with pytest.raises(SandboxUnavailable, match="needs JUDGE0_URL"):
        build_code_runner(Settings(code_runner="judge0"))


async def test_services_close_the_judge0_client(judge0: FakeJudge0) -> None:
    settings = Settings(database_url="memory://", code_runner="judge0", judge0_url=judge0.url)
    services = await build_services(settings, store=InMemoryStore())
    runner = services.code_runner
    assert isinstance(runner, Judge0Runner)
    result = await runner.run(CodeJob("python", "x = 1", (CodeTest("t", "assert x == 1"),)))
    assert result.all_passed
    assert not runner._client.is_closed
    await services.close()
    assert runner._client.is_closed  # no connection pool left behind
