"""What a code run is asked to do and what it reports, for every runner (bwrap, local, Judge0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

Language = Literal["python", "sql"]
RunStatus = Literal["ok", "timeout", "output_limit", "crashed"]


@dataclass(frozen=True, slots=True)
class CodeTest:
    """One of the author's tests: Python ``code`` (asserts, run by the judge) and ``setup`` (run in
    the learner's process before the test), or for SQL an extra fixture ``setup``. A hidden test's
    message and output never leave the sandbox."""

    id: str
    code: str = ""
    setup: str = ""
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class CodeJob:
    language: Language
    code: str
    tests: tuple[CodeTest, ...]
    time_limit_seconds: float = 2.0
    memory_limit_mb: int = 128
    setup: str = ""  # SQL: the fixture every test starts from
    solution: str = ""  # SQL: the reference query
    order_matters: bool = False


@dataclass(frozen=True, slots=True)
class TestOutcome:
    __test__: ClassVar[bool] = False  # not a pytest test class
    id: str
    passed: bool
    message: str = ""
    output: str = ""


@dataclass(frozen=True, slots=True)
class RunResult:
    """Per-test outcomes (every test of the job, in order), how the run ended, and its cost."""

    tests: tuple[TestOutcome, ...]
    status: RunStatus
    duration_ms: int
    sandbox: str
    diagnostics: str = ""  # the runner's stderr, clipped: for operators, never for learners

    @property
    def all_passed(self) -> bool:
        return all(t.passed for t in self.tests)


class SandboxUnavailable(RuntimeError):
    """Code cannot run safely here; the message tells the operator what to install or set."""


class RunnerError(RuntimeError):
    """The runner failed for reasons that are not the learner's (e.g. Judge0 unreachable)."""


class CodeRunner(Protocol):
    """Runs one job in isolation; never raises for anything the learner's code does."""

    name: str

    async def run(self, job: CodeJob) -> RunResult:
        """Run ``job``; raise SandboxUnavailable or RunnerError only for operator problems."""
        ...

    async def check(self) -> None:
        """Raise :class:`SandboxUnavailable` with the fix when this runner cannot work here."""
        ...
