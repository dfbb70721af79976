"""Runs the kernel refuses to start for now (EAGAIN) are started again, and as root every run's
uid is claimed for the whole host, so runs in other processes never share its process limit."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.sandbox import bwrap
from core.sandbox.bwrap import BwrapRunner
from core.sandbox.models import CodeJob, CodeTest
from core.sandbox.uids import UID_BASE, NoFreeUid, UidClaims

JOB = CodeJob(language="python", code="x = 1", tests=(CodeTest("t", "assert x == 1"),))
EAGAIN = "bwrap: Creating new namespace failed: Resource temporarily unavailable"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every uid can use: the fake bwrap runs as the run's own uid."""
    with tempfile.TemporaryDirectory() as name:
        path = Path(name)
        path.chmod(0o777)
        (path / "starts").write_text("0")
        (path / "starts").chmod(0o666)  # each start may run as another uid
        yield path


def flaky_bwrap(where: Path, failures: int, message: str) -> Path:
    """A bwrap that fails with ``message`` its first ``failures`` times, then is the real one."""
    script = where / "bwrap"
    script.write_text(
        "#!/bin/sh\n"
        f"count={where}/starts\n"
        'n=$(cat "$count")\n'
        'echo $((n + 1)) > "$count"\n'
        f'if [ "$n" -lt {failures} ]; then echo "{message}" >&2; exit 1; fi\n'
        f'exec {shutil.which("bwrap") or "/usr/bin/bwrap"} "$@"\n'
    )
    script.chmod(0o755)
    return script


def starts(where: Path) -> int:
    return int((where / "starts").read_text())


async def test_a_run_refused_for_now_is_started_again(
    bwrap_runner: BwrapRunner, shared_dir: Path
) -> None:
    runner = BwrapRunner(bwrap=str(flaky_bwrap(shared_dir, 2, EAGAIN)))
    result = await runner._run(JOB)
    assert result.status == "ok" and result.all_passed, result
    assert starts(shared_dir) == 3


async def test_a_run_refused_every_time_is_reported_after_a_few_starts(
    bwrap_runner: BwrapRunner, shared_dir: Path
) -> None:
    runner = BwrapRunner(bwrap=str(flaky_bwrap(shared_dir, 99, EAGAIN)))
    result = await runner._run(JOB)
    assert result.status == "crashed" and "Resource temporarily unavailable" in result.diagnostics
    assert starts(shared_dir) == bwrap.START_ATTEMPTS


async def test_other_failures_are_not_started_again(
    bwrap_runner: BwrapRunner, shared_dir: Path
) -> None:
    message = "bwrap: No permissions to creating new namespace"
    runner = BwrapRunner(bwrap=str(flaky_bwrap(shared_dir, 99, message)))
    result = await runner._run(JOB)
    assert result.status == "crashed" and message in result.diagnostics
    assert starts(shared_dir) == 1


HOLDER = """
import sys
from pathlib import Path
from core.sandbox.uids import UidClaims
claims = UidClaims(Path(sys.argv[1]), count=2)
print(claims.claim(), flush=True)
sys.stdin.read()
"""


def test_a_uid_another_process_holds_is_never_handed_out_until_that_process_ends() -> None:
    with tempfile.TemporaryDirectory() as name:
        with subprocess.Popen(
            [sys.executable, "-c", HOLDER, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as holder:
            try:
                assert holder.stdout is not None
                held = int(holder.stdout.readline())
                claims = UidClaims(Path(name), count=2)
                assert claims.shared
                mine = claims.claim()
                assert {held, mine} == {UID_BASE, UID_BASE + 1}
                with pytest.raises(NoFreeUid):
                    claims.claim()
            finally:
                holder.kill()
        assert claims.claim() == held  # its lock went with its process
        claims.release(mine)
        assert claims.claim() == mine


def test_claims_stay_in_the_process_where_others_could_change_the_directory() -> None:
    with tempfile.TemporaryDirectory() as name:
        Path(name).chmod(0o777)
        claims = UidClaims(Path(name), count=2)
        assert not claims.shared
        first, second = claims.claim(), claims.claim()
        assert first != second
        with pytest.raises(NoFreeUid):
            claims.claim()
        claims.release(first)
        assert claims.claim() == first
