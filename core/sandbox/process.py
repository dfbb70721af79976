"""Running the harness as a child process: job on stdin, wall-clock timeout, capped output.

Shared by the bubblewrap and the unsafe-local runner; the Judge0 runner reuses the parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

from core.sandbox.models import CodeJob, RunnerError, RunResult, RunStatus, TestOutcome

OUTPUT_LIMIT = 1024 * 1024  # bytes of stdout read from one run; beyond it the run is killed
STDERR_LIMIT = 64 * 1024
CLIP = 2000


@cache
def harness_source() -> str:
    """The source of :mod:`core.sandbox.harness`, passed to ``python3 -c`` inside the sandbox."""
    return (Path(__file__).parent / "harness.py").read_text(encoding="utf-8")


def job_payload(job: CodeJob) -> tuple[str, bytes]:
    """A fresh marker and the JSON the harness reads on stdin."""
    marker = "@@curiouscore-" + secrets.token_hex(16)
    data: dict[str, Any] = asdict(job)
    data["marker"] = marker
    return marker, json.dumps(data).encode("utf-8")


def parse_output(
    job: CodeJob, marker: str, stdout: bytes
) -> tuple[dict[str, TestOutcome], RunStatus | None]:
    """The test outcomes the harness reported, and the status it finished with (None: it did not)."""
    outcomes: dict[str, TestOutcome] = {}
    done: RunStatus | None = None
    known = {test.id for test in job.tests}
    prefix = marker.encode() + b" "
    for line in stdout.split(b"\n"):
        if not line.startswith(prefix):
            continue
        try:
            record = json.loads(line[len(prefix) :])
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("done") is True:
            reported = record.get("status")
            done = reported if reported in ("ok", "timeout", "output_limit") else "ok"
            continue
        test_id = record.get("id")
        if test_id in known and test_id not in outcomes:
            outcomes[test_id] = TestOutcome(
                id=test_id,
                passed=record.get("passed") is True,
                message=str(record.get("message", ""))[:CLIP],
                output=str(record.get("output", ""))[:CLIP],
            )
    return outcomes, done


def assemble(
    job: CodeJob,
    outcomes: dict[str, TestOutcome],
    status: RunStatus,
    duration_ms: int,
    sandbox: str,
    stderr: bytes = b"",
) -> RunResult:
    """Every test of ``job`` in order; a test without an outcome failed for the run's reason."""
    reason = {
        "timeout": f"time limit exceeded ({job.time_limit_seconds:g} s)",
        "output_limit": "too much output: the run was stopped",
        "crashed": "the program stopped before this test ran",
        "ok": "the program stopped before this test ran",
    }[status]
    if status == "crashed" and b"MemoryError" in stderr:
        reason = f"memory limit exceeded ({job.memory_limit_mb} MB)"
    tests = tuple(
        outcomes.get(test.id) or TestOutcome(test.id, False, reason, "") for test in job.tests
    )
    diagnostics = stderr[-CLIP:].decode("utf-8", "replace").strip()
    return RunResult(tests, status, duration_ms, sandbox, diagnostics)


async def run_harness(
    argv: list[str],
    job: CodeJob,
    *,
    sandbox: str,
    env: dict[str, str],
    grace_seconds: float = 1.0,
) -> RunResult:
    """Run the harness command ``argv`` with ``job``; kill its process group on any limit."""
    marker, payload = job_payload(job)
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd="/",
            start_new_session=True,
        )
    except (OSError, ValueError) as error:
        raise RunnerError(f"cannot start {argv[0]}: {error}") from error
    assert process.stdin and process.stdout and process.stderr
    status: RunStatus = "ok"
    stdout = bytearray()
    stderr = bytearray()

    async def feed() -> None:
        assert process.stdin
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(payload)
            await process.stdin.drain()
            process.stdin.close()

    async def read_out() -> bool:
        assert process.stdout
        while chunk := await process.stdout.read(65536):
            stdout.extend(chunk)
            if len(stdout) > OUTPUT_LIMIT:
                return False
        return True

    async def read_err() -> None:
        assert process.stderr
        while chunk := await process.stderr.read(65536):
            if len(stderr) < STDERR_LIMIT:
                stderr.extend(chunk[: STDERR_LIMIT - len(stderr)])

    err_task = asyncio.ensure_future(read_err())
    try:
        await feed()
        within = await asyncio.wait_for(read_out(), job.time_limit_seconds + grace_seconds)
        if not within:
            status = "output_limit"
        else:
            await asyncio.wait_for(process.wait(), grace_seconds)
    except TimeoutError:
        status = "timeout"
    finally:
        _kill_group(process.pid)
        # asyncio reports the exit only once every pipe has reached EOF: drain what is left.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_drain(process.stdout), grace_seconds)
        await process.wait()
        # Let stderr reach EOF too (the sandbox is gone by now), so its pipe is closed, not leaked.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(err_task, grace_seconds)
    duration_ms = round((time.monotonic() - started) * 1000)
    outcomes, done = parse_output(job, marker, bytes(stdout))
    if status == "ok":
        status = done or "crashed"
    elif status == "timeout" and done:
        status = done  # a stray child kept stdout open after every test had reported
    return assemble(job, outcomes, status, duration_ms, sandbox, bytes(stderr))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
