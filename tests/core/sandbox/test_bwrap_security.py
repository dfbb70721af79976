"""The sandbox holds: each hostile program is stopped within its limits and the server is fine.

Every test is bounded in time (asyncio.wait_for) so a sandbox that failed to hold would fail the
test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from core.sandbox.bwrap import BwrapRunner
from core.sandbox.models import CodeJob, CodeTest, RunResult

BOUND = 20.0


async def run(runner: BwrapRunner, code: str, *tests: tuple[str, str], **kw: object) -> RunResult:
    job = CodeJob(
        language="python",
        code=code,
        tests=tuple(CodeTest(i, c) for i, c in tests) or (CodeTest("t", "pass"),),
        **kw,  # type: ignore[arg-type]
    )
    return await asyncio.wait_for(runner.run(job), BOUND)


async def test_passing_and_failing_tests_are_reported_per_test(bwrap_runner: BwrapRunner) -> None:
    result = await run(
        bwrap_runner,
        "def double(x):\n    print('doubling', x)\n    return x * 2\n",
        ("ok", "assert double(2) == 4"),
        ("bad", "assert double(3) == 7, 'double(3) should be 7'"),
        ("boom", "double(None) + 1"),
    )
    assert result.status == "ok" and result.sandbox == "bwrap"
    ok, bad, boom = result.tests
    assert ok.passed and "doubling 2" in ok.output
    assert not bad.passed and bad.message == "double(3) should be 7"
    assert not boom.passed and "TypeError" in boom.message and "line 3 of your code" in boom.message


async def test_syntax_error_fails_every_test_with_the_line(bwrap_runner: BwrapRunner) -> None:
    result = await run(bwrap_runner, "def f(:\n  pass", ("a", "f()"), ("b", "f()"))
    assert [t.passed for t in result.tests] == [False, False]
    assert "SyntaxError" in result.tests[0].message and "line 1" in result.tests[0].message


async def test_fork_bomb_is_contained(bwrap_runner: BwrapRunner) -> None:
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = await run(bwrap_runner, bomb, ("t", "pass"), time_limit_seconds=1)
    assert result.status in ("timeout", "crashed")
    assert not result.tests[0].passed
    # The server can still start processes afterwards.
    proc = await asyncio.create_subprocess_exec("true")
    assert await proc.wait() == 0


async def test_fork_bomb_does_not_starve_another_learner(bwrap_runner: BwrapRunner) -> None:
    bomb = run(
        bwrap_runner,
        "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n",
        time_limit_seconds=2,
    )
    await asyncio.sleep(0)
    normal = run(
        bwrap_runner,
        "import subprocess\nr = subprocess.run(['/usr/bin/true']).returncode",
        ("t", "assert r == 0"),
    )
    _, other = await asyncio.gather(bomb, normal)
    assert other.status == "ok" and other.tests[0].passed


async def test_infinite_loop_is_stopped_at_the_time_limit(bwrap_runner: BwrapRunner) -> None:
    result = await run(
        bwrap_runner,
        "x = 1",
        ("fine", "assert x"),
        ("loop", "while True: pass"),
        time_limit_seconds=1,
    )
    assert result.status == "timeout"
    assert result.tests[0].passed  # what finished before the limit still counts
    assert not result.tests[1].passed and "time limit" in result.tests[1].message
    assert result.duration_ms < 4000


async def test_memory_hog_gets_a_memory_error(bwrap_runner: BwrapRunner) -> None:
    result = await run(
        bwrap_runner,
        "blocks = []\ndef hog():\n    while True:\n        blocks.append(bytearray(16 * 1024 * 1024))\n",
        ("t", "hog()"),
        memory_limit_mb=64,
    )
    assert not result.tests[0].passed
    assert "MemoryError" in result.tests[0].message or "memory" in result.tests[0].message


async def test_no_network_not_even_loopback(bwrap_runner: BwrapRunner) -> None:
    accepted: list[bool] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(True)
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code = f"""
import socket
def attempt(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        return "connected"
    except OSError as e:
        return "refused"
api = attempt({port})
postgres = attempt(5432)
try:
    socket.getaddrinfo("example.com", 80)
    dns = "resolved"
except OSError:
    dns = "failed"
"""
    async with server:
        result = await run(
            bwrap_runner,
            code,
            ("api", "assert api == 'refused', api"),
            ("postgres", "assert postgres == 'refused', postgres"),
            ("dns", "assert dns == 'failed', dns"),
        )
    assert [t.passed for t in result.tests] == [True, True, True], result.tests
    assert accepted == []


async def test_server_environment_is_invisible(
    bwrap_runner: BwrapRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "canary-secret-0123456789")
    monkeypatch.setenv("DATABASE_URL", "postgresql://canary-db")
    code = """
import os, glob
seen = repr(dict(os.environ))
for path in glob.glob("/proc/*/environ"):
    try:
        seen += open(path, "rb").read().decode("latin-1")
    except OSError:
        pass
"""
    result = await run(
        bwrap_runner,
        code,
        ("env", "assert 'canary' not in seen, seen"),
        ("pid1", "assert open('/proc/1/environ','rb').read() in (b'', b'PATH=/usr/bin:/bin\\x00')"),
    )
    assert all(t.passed for t in result.tests), result.tests


async def test_only_the_tmpfs_is_writable(bwrap_runner: BwrapRunner, tmp_path: Path) -> None:
    host_file = tmp_path / "escaped.txt"
    code = f"""
results = {{}}
for path in ["/escaped", "/usr/escaped", "/etc/escaped", {str(host_file)!r}, "/proc/escaped"]:
    try:
        open(path, "w").write("x")
        results[path] = "written"
    except OSError:
        results[path] = "refused"
open("/tmp/ok.txt", "w").write("fine")
tmp = open("/tmp/ok.txt").read()
"""
    result = await run(
        bwrap_runner,
        code,
        ("outside", "assert set(results.values()) == {'refused'}, results"),
        ("tmpfs", "assert tmp == 'fine'"),
        ("big-file", "open('/tmp/big', 'wb').write(b'x' * 64 * 1024 * 1024)"),
    )
    assert [t.passed for t in result.tests[:2]] == [True, True], result.tests
    assert not result.tests[2].passed  # the file-size limit / tmpfs size stops it
    assert not host_file.exists()


async def test_hundred_megabytes_of_output_are_cut_off(bwrap_runner: BwrapRunner) -> None:
    direct = await run(
        bwrap_runner, "import os\nfor _ in range(100):\n    os.write(1, b'x' * 1_000_000)\n"
    )
    assert direct.status == "output_limit" and not direct.tests[0].passed
    printed = await run(
        bwrap_runner, "for _ in range(100):\n    print('y' * 1_000_000)\n", ("t", "pass")
    )
    # print() and raw writes reach the same pipe: past 1 MiB the run is stopped, clipped.
    assert printed.status == "output_limit" and not printed.tests[0].passed
    assert all(len(t.output) <= 2100 for t in printed.tests + direct.tests)
    small = await run(bwrap_runner, "print('z' * 50_000)", ("t", "pass"))
    assert small.status == "ok" and small.tests[0].passed and len(small.tests[0].output) <= 2100


async def test_killing_the_parent_harms_nothing(bwrap_runner: BwrapRunner) -> None:
    code = """
import os, signal
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
"""
    result = await run(bwrap_runner, code, ("t", "pass"))
    assert result.tests[0].passed is False or result.status == "ok"
    assert os.getppid() > 0  # this process and its parent are alive
    after = await run(bwrap_runner, "x = 2", ("t", "assert x == 2"))
    assert after.tests[0].passed
