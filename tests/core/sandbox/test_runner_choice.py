"""Which runner the settings give, the unsafe-local warning, and the refusal where bwrap cannot run."""

from __future__ import annotations

import logging

import pytest

from core.config import Settings
from core.sandbox.bwrap import BwrapRunner
from core.sandbox.factory import build_code_runner
from core.sandbox.local import UnsafeLocalRunner
from core.sandbox.models import CodeJob, CodeTest, SandboxUnavailable


async def test_unsafe_local_runs_code_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        runner = build_code_runner(Settings(code_sandbox="unsafe-local"))
    assert isinstance(runner, UnsafeLocalRunner)
    assert any("WITHOUT isolation" in r.getMessage() for r in caplog.records)
    result = await runner.run(CodeJob("python", "x = 2", (CodeTest("t", "assert x == 2"),)))
    assert result.sandbox == "unsafe-local" and result.tests[0].passed


def test_the_default_is_bubblewrap() -> None:
    assert isinstance(build_code_runner(Settings()), BwrapRunner)


async def test_where_bwrap_is_missing_code_steps_refuse_naming_the_fix() -> None:
    runner = BwrapRunner(bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxUnavailable) as caught:
        await runner.run(CodeJob("python", "x = 1", (CodeTest("t", "pass"),)))
    message = str(caught.value)
    assert "bwrap not found" in message and "apt-get install bubblewrap" in message
    assert "CODE_SANDBOX=unsafe-local" in message and "CODE_RUNNER=judge0" in message


async def test_where_bwrap_cannot_make_a_sandbox_code_steps_refuse(tmp_path) -> None:
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match=r"could not start a sandbox \(.+\)"):
        await BwrapRunner(bwrap=str(broken)).check()
