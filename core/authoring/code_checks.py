"""The authoring check of code steps: real sandbox runs of the solution, starter and examples.

The solution must pass every test, the starter must fail at least one, and every labelled
example must pass or fail as its author expects. Each run's duration is reported, so an author
sees a test that is close to the time limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass

from core.authoring.findings import Finding, Severity
from core.authoring.render import badge, html_table
from core.config import Settings
from core.content.models import ChallengeFile, CodeStep
from core.engine import ChallengeSpec, StepKind
from core.sandbox.factory import build_code_runner
from core.sandbox.models import CodeRunner, RunnerError, RunResult, SandboxUnavailable
from core.service.code_runs import job_for

CHECK = "code"


@dataclass(frozen=True, slots=True)
class CodeRun:
    step_id: str
    what: str  # solution | starter | example N
    expect: str  # pass | fail
    passed_tests: int
    total_tests: int
    status: str
    duration_ms: int

    @property
    def agrees(self) -> bool:
        all_passed = self.passed_tests == self.total_tests
        return all_passed if self.expect == "pass" else not all_passed


@dataclass(frozen=True, slots=True, repr=False)
class CodeReport:
    runs: tuple[CodeRun, ...]
    findings: tuple[Finding, ...]
    sandbox: str

    def __repr__(self) -> str:
        return f"<{len(self.runs)} code runs in {self.sandbox}, {len(self.findings)} findings>"

    def _repr_html_(self) -> str:
        if not self.runs:
            return f"<p>{badge(True, yes='No code steps.')}</p>"
        rows = [
            [r.step_id, r.what, r.expect, f"{r.passed_tests}/{r.total_tests}", r.status,
             f"{r.duration_ms} ms", badge(r.agrees, yes="as expected", no="DISAGREES")]
            for r in self.runs
        ]  # fmt: skip
        return html_table(["step", "code", "expected", "tests passed", "run", "took", ""], rows) + (
            f"<p>Sandbox: {self.sandbox}</p>"
        )


def _cases(step: CodeStep) -> list[tuple[str, str, str]]:
    cases = [("solution", step.solution, "pass"), ("starter", step.starter or "pass", "fail")]
    cases += [(f"example {i + 1}", e.answer, e.expect) for i, e in enumerate(step.examples)]
    return cases


async def run_code_checks(
    challenge: ChallengeFile, spec: ChallengeSpec, runner: CodeRunner
) -> CodeReport:
    """Run every code step's solution, starter and examples through ``runner``."""
    runs: list[CodeRun] = []
    findings: list[Finding] = []
    sources = {s.id: s for s in challenge.steps if isinstance(s, CodeStep)}
    for step in spec.steps:
        source = sources.get(step.id)
        if step.kind is not StepKind.CODE or source is None:
            continue
        for what, code, expect in _cases(source):
            try:
                result: RunResult = await runner.run(job_for(step, code))
            except (SandboxUnavailable, RunnerError) as error:
                findings.append(Finding(CHECK, Severity.ERROR, str(error), step.id, "tests"))
                return CodeReport(tuple(runs), tuple(findings), runner.name)
            passed = sum(t.passed for t in result.tests)
            run = CodeRun(step.id, what, expect, passed, len(result.tests), result.status,
                          result.duration_ms)  # fmt: skip
            runs.append(run)
            if not run.agrees:
                failing = "; ".join(f"{t.id}: {t.message}" for t in result.tests if not t.passed)
                detail = "every test passed" if expect == "fail" else f"failed {failing}"
                message = f"the {what} should {expect} but {detail}"
                findings.append(Finding(CHECK, Severity.ERROR, message, step.id, "tests"))
    return CodeReport(tuple(runs), tuple(findings), runner.name)


def check_code_steps(challenge: ChallengeFile, spec: ChallengeSpec) -> CodeReport:
    """Synchronous, for the notebook: build the configured runner and run the checks."""
    if not any(step.kind is StepKind.CODE for step in spec.steps):
        return CodeReport((), (), "none")

    def work() -> CodeReport:
        runner = build_code_runner(Settings())
        return asyncio.run(run_code_checks(challenge, spec, runner))

    # The notebook's kernel already runs an event loop; the sandbox runs get their own thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()
