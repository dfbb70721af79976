"""The bubblewrap runner: each run is a fresh process in its own namespaces, with hard limits.

What one run gets: its own user, PID, network (loopback only, nothing listening), IPC, UTS and
cgroup namespaces; the system (``/usr``) read-only and nothing else of the host's files; a small
private tmpfs at ``/tmp`` as the only writable place (the root is remounted read-only); an empty
environment (bubblewrap itself starts with nothing of the server's, so even ``/proc/1/environ`` is
clean); uid/gid 65534 inside; no capabilities; rlimits (set with ``prlimit``) on CPU time, address
space, processes, open files and file size; a wall-clock timeout that kills the whole process
group; and at most 1 MiB of output read.

When the server runs as root (a container), every concurrent run also gets its own unprivileged
uid outside the sandbox, so the process limit counts that run alone. Otherwise runs share the
server's uid and the process limit is the uid's current task count plus ``PROCESS_ALLOWANCE``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from core.sandbox.models import CodeJob, CodeTest, RunnerError, RunResult, SandboxUnavailable
from core.sandbox.process import harness_source, run_harness

PROCESS_ALLOWANCE = 32
OPEN_FILES = 64
FILE_SIZE_BYTES = 4 * 1024 * 1024
TMPFS_BYTES = 16 * 1024 * 1024
INTERPRETER_OVERHEAD_MB = 48
UID_BASE = 200_000  # the unprivileged uids runs get when the server runs as root
FIX = (
    "Install Debian's bubblewrap package (apt-get install bubblewrap; scripts/run and "
    "scripts/test do it when run as root) and allow unprivileged user namespaces "
    "(sysctl kernel.unprivileged_userns_clone=1; in Docker, a seccomp profile that permits "
    "clone/unshare of namespaces), or send runs to Judge0 with CODE_RUNNER=judge0 and JUDGE0_URL. "
    "For local development only, CODE_SANDBOX=unsafe-local runs code without isolation."
)


class BwrapRunner:
    """Runs jobs with ``bwrap``; at most ``max_concurrency`` at once."""

    name = "bwrap"

    def __init__(
        self,
        *,
        bwrap: str | None = None,
        python: str = "/usr/bin/python3",
        prlimit: str | None = None,
        max_concurrency: int = 2,
    ) -> None:
        self._bwrap = bwrap or shutil.which("bwrap") or "/usr/bin/bwrap"
        self._prlimit = prlimit or shutil.which("prlimit") or "/usr/bin/prlimit"
        self._setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        self._python = python
        self._slots = asyncio.Semaphore(max_concurrency)
        self._free_uids = list(range(UID_BASE + max_concurrency - 1, UID_BASE - 1, -1))
        self._checked = False

    async def check(self) -> None:
        """Start one trivial sandbox; raise SandboxUnavailable naming the fix if it fails."""
        if self._checked:
            return
        self._require_files()
        probe = CodeJob(
            language="python", code="x = 1", tests=(CodeTest("probe", "assert x == 1"),)
        )
        try:
            result = await self._run(probe)
        except RunnerError as error:
            raise SandboxUnavailable(f"code steps cannot run: {error}. {FIX}") from None
        if result.status != "ok" or not result.all_passed:
            detail = result.diagnostics or (result.tests[0].message if result.tests else "")
            raise SandboxUnavailable(
                f"code steps cannot run: bubblewrap could not start a sandbox ({detail}). {FIX}"
            )
        self._checked = True

    def _require_files(self) -> None:
        tools = [(self._bwrap, "bwrap"), (self._prlimit, "prlimit"), (self._python, "python3")]
        if os.geteuid() == 0:
            tools.append((self._setpriv, "setpriv"))
        for path, what in tools:
            if not Path(path).is_file() or not os.access(path, os.X_OK):
                raise SandboxUnavailable(
                    f"code steps cannot run: {what} not found at {path}. {FIX}"
                )

    async def run(self, job: CodeJob) -> RunResult:
        await self.check()
        return await self._run(job)

    async def _run(self, job: CodeJob) -> RunResult:
        async with self._slots:
            uid = self._free_uids.pop() if os.geteuid() == 0 else None
            try:
                return await run_harness(
                    self.argv(job, uid), job, sandbox=self.name, env={"PATH": "/usr/bin:/bin"}
                )
            finally:
                if uid is not None:
                    self._free_uids.append(uid)

    def argv(self, job: CodeJob, uid: int | None) -> list[str]:
        """The command line of one run: prlimit's limits around bwrap around the harness."""
        memory = (job.memory_limit_mb + INTERPRETER_OVERHEAD_MB) * 1024 * 1024
        processes = (
            PROCESS_ALLOWANCE if uid is not None else _tasks_of(os.getuid()) + PROCESS_ALLOWANCE
        )
        cpu = int(job.time_limit_seconds) + 1
        # setpriv (util-linux) drops to the run's own uid: no Popen user= (uvloop lacks it).
        drop = (
            [self._setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
            if uid is not None
            else []
        )
        return [
            *drop,
            self._prlimit,
            f"--cpu={cpu}",
            f"--as={memory}",
            f"--nproc={processes}",
            f"--nofile={OPEN_FILES}",
            f"--fsize={FILE_SIZE_BYTES}",
            "--core=0",
            "--",
            self._bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--cap-drop", "ALL",
            "--uid", "65534",
            "--gid", "65534",
            "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", str(TMPFS_BYTES),
            "--tmpfs", "/tmp",  # noqa: S108 - the sandbox's own private tmpfs
            "--remount-ro", "/",
            "--chdir", "/tmp",  # noqa: S108
            "--clearenv",
            "--setenv", "PATH", "/usr/bin",
            "--setenv", "HOME", "/tmp",  # noqa: S108
            "--setenv", "PYTHONIOENCODING", "utf-8",
            "--",
            self._python, "-I", "-S", "-B", "-c", harness_source(), "--isolated",
        ]  # fmt: skip


def _tasks_of(uid: int) -> int:
    """How many tasks (threads) ``uid`` runs now: what RLIMIT_NPROC counts against."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        uid_line = next((line for line in text.splitlines() if line.startswith("Uid:")), "")
        threads = next((line for line in text.splitlines() if line.startswith("Threads:")), "")
        if uid_line.split()[1:2] == [str(uid)] and threads:
            count += int(threads.split()[1])
    return count
