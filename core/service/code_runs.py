"""Code steps in the service: the pending run of a submitted answer, and trial runs.

A submitted code answer is pending work like an LLM grading: the service runs it outside every
transaction and records the outcome once, as ``RecordCodeRun`` → ``AnswerGraded``. Within one
process concurrent callers settling the same attempt share one run (single flight), so a retried
request never runs the code twice; across processes the event store's expected version lets one
recording win and the other is discarded without a second event.

A trial run ("Run tests") runs the visible tests only, records nothing and spends no attempt; it
is rate limited per learner.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from core.engine import ChallengeSpec, SessionState, Status, StepKind, StepSpec
from core.engine.code import validate_code
from core.engine.commands import CodeTestResult, RecordCodeRun
from core.engine.events import CodeRunTrace
from core.errors import DomainError, InvalidAnswer, RateLimited, SessionNotActive, StepNotCurrent
from core.sandbox.models import (
    CodeJob,
    CodeRunner,
    CodeTest,
    RunnerError,
    RunResult,
    SandboxUnavailable,
)
from core.service.clock import Clock

log = logging.getLogger(__name__)


class CodeRunnerUnavailable(DomainError):
    """Code cannot run on this server; the message names the fix for the operator (HTTP 503)."""

    code = "code_runner_unavailable"


@dataclass(frozen=True, slots=True)
class CodeTrial:
    """The outcome of a trial run: visible tests only; nothing recorded, no attempt spent."""

    step_id: str
    tests: tuple[CodeTestResult, ...]
    status: str
    duration_ms: int
    sandbox: str


def job_for(step: StepSpec, code: str, *, visible_only: bool = False) -> CodeJob:
    """The sandbox job for ``code`` against ``step``'s tests (all, or the visible ones)."""
    spec = step.code
    assert spec is not None
    tests = tuple(
        CodeTest(t.id, t.code, t.setup, t.hidden) for t in spec.tests if not (visible_only and t.hidden)
    )
    return CodeJob(
        language="sql" if spec.language == "sql" else "python",
        code=code,
        tests=tests,
        time_limit_seconds=spec.time_limit_seconds,
        memory_limit_mb=spec.memory_limit_mb,
        setup=spec.setup,
        solution=spec.solution,
        order_matters=spec.order_matters,
    )


def _results(result: RunResult) -> tuple[CodeTestResult, ...]:
    return tuple(CodeTestResult(t.id, t.passed, t.message, t.output) for t in result.tests)


class TrialLimit:
    """At most ``limit`` trial runs per learner in any 60 seconds (in process)."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, learner_id: str) -> None:
        now = self._clock()
        hits = self._hits.setdefault(learner_id, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self._limit:
            wait = max(1, math.ceil(hits[0] + 60 - now))
            raise RateLimited("too many test runs; please wait a little and try again", wait)
        hits.append(now)
        if len(self._hits) > 50_000:
            self._hits.pop(next(iter(self._hits)))


class CodeGrading:
    """Runs code answers for the game service; ``runner`` None means code steps are off."""

    def __init__(
        self, runner: CodeRunner | None, clock: Clock, *, trials_per_minute: int = 10
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._inflight: dict[tuple[str, str, int], asyncio.Future[RunResult]] = {}
        self.trial_limit = TrialLimit(trials_per_minute)

    async def ensure_available(self) -> CodeRunner:
        """The runner, once it has shown it can work; else CodeRunnerUnavailable with the fix."""
        if self._runner is None:
            raise CodeRunnerUnavailable("code steps are not configured on this server")
        try:
            await self._runner.check()
        except SandboxUnavailable as error:
            log.error("code runner unavailable: %s", error)
            raise CodeRunnerUnavailable(str(error)) from None
        return self._runner

    async def pending_run(
        self, challenge: ChallengeSpec, state: SessionState, *, xp_already_granted: bool
    ) -> RecordCodeRun | None:
        """Run the pending code answer once; None when the runner cannot run it right now."""
        current = state.current
        assert current is not None and current.pending_attempt is not None
        step = challenge.steps[current.index]
        key = (state.session_id, step.id, current.pending_attempt)
        try:
            result = await self._single_flight(key, step, str(current.pending_answer))
        except (CodeRunnerUnavailable, RunnerError) as error:
            # No fallback grades code: the answer stays pending (visible in the stream) and is
            # run the next time the session is touched.
            log.error("code run failed; the answer stays pending: %s", error)
            return None
        run = CodeRunTrace(
            sandbox=result.sandbox,
            status=result.status,
            duration_ms=result.duration_ms,
            language=step.code.language if step.code else "python",
        )
        return RecordCodeRun(
            at=self._clock.now(),
            step_id=step.id,
            attempt=current.pending_attempt,
            results=_results(result),
            run=run,
            xp_already_granted=xp_already_granted,
        )

    async def _single_flight(
        self, key: tuple[str, str, int], step: StepSpec, code: str
    ) -> RunResult:
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[RunResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            runner = await self.ensure_available()
            result = await runner.run(job_for(step, code))
            future.set_result(result)
            return result
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # marked retrieved; waiters re-raise it
            raise
        finally:
            del self._inflight[key]

    async def trial(
        self, challenge: ChallengeSpec, state: SessionState, step_id: str, code: str
    ) -> CodeTrial:
        """Run the visible tests of the current code step against ``code``; record nothing."""
        current = state.current
        if state.status is not Status.ACTIVE or current is None:
            raise SessionNotActive(f"this session is {state.status.value}, not active")
        if current.step_id != step_id:
            raise StepNotCurrent(f"step {step_id!r} is not the current step")
        step = challenge.steps[current.index]
        if step.kind is not StepKind.CODE:
            raise InvalidAnswer("only a code step can run tests")
        try:
            validate_code(code)
        except ValueError as error:
            raise InvalidAnswer(str(error)) from None
        runner = await self.ensure_available()
        self.trial_limit.hit(state.learner_id)
        try:
            result = await runner.run(job_for(step, code, visible_only=True))
        except RunnerError as error:
            log.error("trial run failed: %s", error)
            raise CodeRunnerUnavailable(
                "the code runner is not answering; try again soon"
            ) from None
        return CodeTrial(
            step.id, _results(result), result.status, result.duration_ms, result.sandbox
        )
