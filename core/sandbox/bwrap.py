"""The bubblewrap runner: each run is a fresh process in its own namespaces, with hard limits.

What one run gets: its own user, PID, network (loopback only, nothing listening), IPC, UTS and
cgroup namespaces; the system (``/usr``) read-only and nothing else of the host's files; a small
private tmpfs at ``/tmp`` as the only writable place (the root is remounted read-only); an empty
environment (bubblewrap itself starts with nothing of the server's, so even ``/proc/1/environ`` is
clean); uid/gid 65534 inside; no capabilities; rlimits (set with ``prlimit``) on CPU time, address
space, processes, open files and file size; a wall-clock timeout that kills the whole process
group; and at most 1 MiB of output read.

When the server runs as root (a container), every concurrent run also gets its own unprivileged
uid outside the sandbox, claimed for the whole host (``core.sandbox.uids``: other processes' runs
never share it), so the process limit counts that run alone. Otherwise runs share the server's
uid and the process limit is the uid's current task count plus ``PROCESS_ALLOWANCE``.

A run the kernel refuses to start for now (``EAGAIN`` from ``clone``/``fork`` while bubblewrap
makes the namespaces or the harness forks its zygote: the uid is at its process limit because of
other runs) is started again, a few times, after a short pause: it never reached the learner's
code, so its "crash" is no grade.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import shutil
from pathlib import Path

from core.sandbox.models import CodeJob, CodeTest, RunnerError, RunResult, SandboxUnavailable
from core.sandbox.process import harness_source, run_harness
from core.sandbox.uids import CLAIMS_DIR, NoFreeUid, UidClaims

log = logging.getLogger(__name__)

PROCESS_ALLOWANCE = 32
OPEN_FILES = 64
FILE_SIZE_BYTES = 4 * 1024 * 1024
TMPFS_BYTES = 16 * 1024 * 1024
INTERPRETER_OVERHEAD_MB = 48
START_ATTEMPTS = 3  # a run refused for now (EAGAIN) before the learner's code is started again
START_PAUSE = 0.1  # seconds before the first new start, doubled each time (with jitter)
EAGAIN_TEXT = os.strerror(errno.EAGAIN)  # "Resource temporarily unavailable"
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
        uid_claims: Path | None = CLAIMS_DIR,
    ) -> None:
        self._bwrap = bwrap or shutil.which("bwrap") or "/usr/bin/bwrap"
        self._prlimit = prlimit or shutil.which("prlimit") or "/usr/bin/prlimit"
        self._setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        self._python = python
        self._slots = asyncio.Semaphore(max_concurrency)
        # As root each run drops to a uid of its own on this host (``uid_claims`` is where the
        # claims are shared; None keeps them in this process).
        self._uids = UidClaims(uid_claims) if os.geteuid() == 0 else None
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
        pause = START_PAUSE
        for attempt in range(1, START_ATTEMPTS + 1):
            result = await self._run_once(job)
            if attempt == START_ATTEMPTS or not refused_to_start(result):
                return result
            log.warning(
                "the sandbox could not start (%s); starting it again", result.diagnostics[-300:]
            )
            # Outside the slot, so runs that can start meanwhile do (and free processes).
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))  # noqa: S311 - jitter only
            pause *= 2
        raise AssertionError("unreachable")

    async def _run_once(self, job: CodeJob) -> RunResult:
        async with self._slots:
            try:
                uid = self._uids.claim() if self._uids is not None else None
            except NoFreeUid as error:
                raise RunnerError(str(error)) from None
            try:
                return await run_harness(
                    self.argv(job, uid), job, sandbox=self.name, env={"PATH": "/usr/bin:/bin"}
                )
            finally:
                if uid is not None and self._uids is not None:
                    self._uids.release(uid)

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


def refused_to_start(result: RunResult) -> bool:
    """Whether ``result`` is a run the kernel refused to start for now: it crashed with EAGAIN on
    the runner's stderr (bubblewrap's or the harness's own, never the learner's: their output goes
    to the harness) before any test reported anything."""
    return (
        result.status == "crashed"
        and EAGAIN_TEXT in result.diagnostics
        and not any(test.passed or test.output for test in result.tests)
    )


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
