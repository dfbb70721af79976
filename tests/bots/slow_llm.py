"""A slow LLM provider for the bots' tests of "Grading…" and of restarts during grading.

With the offline provider a chat answer is graded inside the answer's own transaction, so a thread
never shows "Grading…". A real provider takes a while: this one stands for it (it is not the
offline provider, so grading is pending work done after the answer is recorded). Narration and
hints answer at once; ``evaluate`` waits until ``release`` is set (or, given ``seconds``, that
long: the benchmarks' slow LLM), then grades as the offline provider does.

Not an ``OfflineProvider`` subclass: offline work is instant (done inside the answer's own
transaction), so the bots would never show "Grading…".
"""

from __future__ import annotations

import asyncio

from core.bootstrap import Services
from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, TextResult, Verdict
from core.llm.offline import OfflineProvider


class SlowGrader:
    name = "slow"
    model = "slow-grader"

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.calls = 0
        self._offline = OfflineProvider()

    async def narrate(self, request: NarrationRequest) -> TextResult:
        return await self._offline.narrate(request)

    async def hint(self, request: HintRequest) -> TextResult:
        return await self._offline.hint(request)

    async def evaluate(self, request: EvaluationRequest) -> Verdict:
        self.calls += 1
        self.started.set()
        if self.seconds is not None:
            await asyncio.sleep(self.seconds)
        else:
            await self.release.wait()
        return await self._offline.evaluate(request)


def slow_grader(services: Services) -> SlowGrader:
    """Make ``services`` grade through a new :class:`SlowGrader`; returns it."""
    grader = SlowGrader()
    services.llm.provider = grader
    return grader
