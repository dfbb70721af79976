"""Running learners' code against authors' tests, isolated from the server (code steps).

Runners share one protocol (:class:`CodeRunner`): ``bwrap`` (the default, a bubblewrap sandbox per
run), ``unsafe-local`` (development only, no isolation) and ``judge0`` (a remote Judge0 CE server).
"""

from core.sandbox.models import (
    CodeJob,
    CodeRunner,
    CodeTest,
    RunnerError,
    RunResult,
    SandboxUnavailable,
    TestOutcome,
)

__all__ = [
    "CodeJob",
    "CodeRunner",
    "CodeTest",
    "RunResult",
    "RunnerError",
    "SandboxUnavailable",
    "TestOutcome",
]
