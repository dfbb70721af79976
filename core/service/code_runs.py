"""Code steps in the service: the pending run of a submitted answer, and trial runs.

A submitted code answer is pending work like an LLM grading: the service runs it outside every
transaction and records the outcome once, as ``RecordCodeRun`` → ``AnswerGraded``.

A retried request never runs the code twice, in any process: within a process concurrent callers
settling the same attempt share one run (single flight) and keep its result until it is recorded;
across processes and hosts the run is *claimed* first, on the shared rate counters (Redis when
``REDIS_URL`` is set, else the database; ``core.store.rate_counters``) as a limit of one run per
(session, step, attempt) per lease. A caller that finds the claim taken waits for the recorded
grade instead of running the code (``RecordedElsewhere``); if the claimant died, the lease expires
and a later touch of the session runs it. The event store's expected version still lets exactly one
recording win.

A trial run ("Run tests") runs the visible tests only, records nothing and spends no attempt; it
is rate limited per learner on the same shared counters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
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
from core.service.single_flight import SingleFlight
from core.store.base import StoreUnavailable
from core.store.rate_counters import MemoryRateCounters, RateCounters

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
        CodeTest(t.id, t.code, t.setup, t.hidden)
        for t in spec.tests
        if not (visible_only and t.hidden)
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


TRIAL_WINDOW = 60  # seconds: trial runs are limited per learner per minute
CLAIM_LEASE = 60  # seconds: a claimed run is another process's for one to two leases
WAIT_GRACE = 10.0  # seconds past the time limit a caller waits for another process's run
KEPT_RESULTS = 256  # finished runs kept in process until recorded (a failed append retries)


class RecordedElsewhere(Exception):
    """Another process ran this attempt and recorded (or is recording) it: reload the session."""


class TrialLimit:
    """At most ``limit`` trial runs per learner in any 60 seconds, on the shared counters."""

    def __init__(
        self, limit: int, counters: RateCounters, *, wall: Callable[[], float] = time.time
    ) -> None:
        self._limit = limit
        self._counters = counters
        self._wall = wall

    async def hit(self, learner_id: str) -> None:
        hit = await self._counters.take_rate_hit(
            f"code-trial:{learner_id}", limit=self._limit, window=TRIAL_WINDOW, now=self._wall()
        )
        if not hit.allowed:
            raise RateLimited(
                "too many test runs; please wait a little and try again", hit.retry_after
            )


class CodeGrading:
    """Runs code answers for the game service; ``runner`` None means code steps are off."""

    def __init__(
        self,
        runner: CodeRunner | None,
        clock: Clock,
        *,
        trials_per_minute: int = 10,
        counters: RateCounters | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._counters: RateCounters = counters or MemoryRateCounters()
        self._wall = wall
        self._runs: SingleFlight[RunResult | None] = SingleFlight()
        self._finished: OrderedDict[tuple[str, str, int], RunResult] = OrderedDict()
        self.trial_limit = TrialLimit(trials_per_minute, self._counters, wall=wall)

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
        self,
        challenge: ChallengeSpec,
        state: SessionState,
        *,
        xp_already_granted: bool,
        still_pending: Callable[[], Awaitable[bool]] | None = None,
    ) -> RecordCodeRun | None:
        """Run the pending code answer once; None when the runner cannot run it right now.

        ``still_pending`` re-reads the session (is this attempt still waiting for its grade?):
        when another process holds the claim, this caller polls it and raises
        :class:`RecordedElsewhere` once the grade is recorded, instead of running the code.
        """
        current = state.current
        assert current is not None and current.pending_attempt is not None
        step = challenge.steps[current.index]
        key = (state.session_id, step.id, current.pending_attempt)
        code = str(current.pending_answer)
        try:
            # A result kept here is reused when its recording lost a race and is being retried.
            result = self._finished.get(key) or await self._runs.run(
                key, lambda: self._claimed_run(key, step, code, still_pending)
            )
        except (CodeRunnerUnavailable, RunnerError, StoreUnavailable) as error:
            # No fallback grades code: the answer stays pending (visible in the stream) and is
            # run the next time the session is touched (also when the claims' Redis is down).
            log.error("code run failed; the answer stays pending: %s", error)
            return None
        if result is None:
            return None  # another process holds the run and has not recorded it yet
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

    async def _claimed_run(
        self,
        key: tuple[str, str, int],
        step: StepSpec,
        code: str,
        still_pending: Callable[[], Awaitable[bool]] | None,
    ) -> RunResult | None:
        """Claim the run on the shared counters and run it (keeping its result); or wait for the
        claimant's grade."""
        runner = await self.ensure_available()
        claim = "code-run:" + ":".join(map(str, key))
        assert step.code is not None
        give_up = time.monotonic() + step.code.time_limit_seconds + WAIT_GRACE
        pause = 0.05
        while True:
            hit = await self._counters.take_rate_hit(
                claim, limit=1, window=CLAIM_LEASE, now=self._wall()
            )
            if hit.allowed:
                try:
                    result = await runner.run(job_for(step, code))
                except BaseException:  # not run after all: let the next touch claim it at once
                    await self._counters.give_back_rate_hit(
                        claim, window=CLAIM_LEASE, bucket=hit.bucket
                    )
                    raise
                # Kept until the grade is recorded (a lost recording race reruns nothing).
                self._finished[key] = result
                while len(self._finished) > KEPT_RESULTS:
                    self._finished.popitem(last=False)
                return result
            if still_pending is None or not await still_pending():
                raise RecordedElsewhere(f"attempt {key[2]} of {key[1]} was graded elsewhere")
            if time.monotonic() >= give_up:
                log.info("code run %s is claimed elsewhere; the answer stays pending", claim)
                return None
            await asyncio.sleep(pause)
            pause = min(0.5, pause * 2)

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
        await self.trial_limit.hit(state.learner_id)
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
