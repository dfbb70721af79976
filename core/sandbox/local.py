"""``CODE_SANDBOX=unsafe-local``: the same harness and limits, without any isolation.

For local development only (e.g. a laptop without user namespaces): the learner's code runs as
the server's user, can read its files and reach its network. The environment is still emptied and
the rlimits and timeout still apply. The composition root logs a warning when this is chosen.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from core.sandbox.models import CodeJob, RunResult, SandboxUnavailable
from core.sandbox.process import harness_source, run_harness

WARNING = (
    "CODE_SANDBOX=unsafe-local: learners' code runs WITHOUT isolation (it can read this "
    "machine's files and reach its network). Use it for local development only."
)


class UnsafeLocalRunner:
    name = "unsafe-local"

    def __init__(self, *, python: str | None = None) -> None:
        default = "/usr/bin/python3" if Path("/usr/bin/python3").is_file() else sys.executable
        self._python = python or default
        self._prlimit = shutil.which("prlimit")

    async def check(self) -> None:
        if not os.access(self._python, os.X_OK):
            raise SandboxUnavailable(f"code steps cannot run: no Python at {self._python}")

    async def run(self, job: CodeJob) -> RunResult:
        memory = (job.memory_limit_mb + 48) * 1024 * 1024
        limits = (
            [self._prlimit, f"--cpu={int(job.time_limit_seconds) + 1}", f"--as={memory}", "--"]
            if self._prlimit
            else []
        )
        argv = [*limits, self._python, "-I", "-S", "-B", "-c", harness_source()]
        return await run_harness(argv, job, sandbox=self.name, env={"PATH": "/usr/bin:/bin"})
