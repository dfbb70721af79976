"""Running LLM tasks so that a learner is never blocked: a deadline, then the offline fallback.

Narration and hints fall back to authored text; an evaluation falls back to the offline evaluator,
marked ``provisional``. Callers never see a provider error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from core.engine.commands import Verdict
from core.llm.base import (
    EvaluationRequest,
    HintRequest,
    LlmProvider,
    LlmTask,
    NarrationRequest,
    TextResult,
)
from core.llm.offline import OfflineProvider

log = logging.getLogger(__name__)


class LlmOrchestrator:
    """Calls the configured provider with a deadline and falls back to the offline provider."""

    def __init__(self, provider: LlmProvider, *, timeout_seconds: float = 30.0) -> None:
        self.provider = provider
        self.timeout_seconds = timeout_seconds
        self._fallback = OfflineProvider(provisional=True)

    @property
    def is_offline(self) -> bool:
        return isinstance(self.provider, OfflineProvider)

    async def narrate(self, request: NarrationRequest) -> tuple[TextResult, str]:
        """Return the narration and its source: ``llm``, ``authored`` or ``fallback``."""
        if self.is_offline:
            return await self.provider.narrate(request), "authored"
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self.provider.narrate(request), "llm"
        except Exception as error:  # any provider failure: narrate from authored text instead
            self._log_failure(LlmTask.GM_NARRATE, error)
            return await self._fallback.narrate(request), "fallback"

    async def hint(self, request: HintRequest) -> tuple[TextResult, str]:
        if self.is_offline:
            return await self.provider.hint(request), "offline"
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self.provider.hint(request), "llm"
        except Exception as error:  # any provider failure: a deterministic hint instead
            self._log_failure(LlmTask.TEACH_HINTS, error)
            return await self._fallback.hint(request), "fallback"

    async def evaluate(self, request: EvaluationRequest) -> Verdict:
        if self.is_offline:
            return await self.provider.evaluate(request)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self.provider.evaluate(request)
        except Exception as error:  # any provider failure: provisional offline grade instead
            self._log_failure(LlmTask.LEM_EVALUATE, error)
            verdict = await self._fallback.evaluate(request)
            note = "Graded automatically for now; a detailed review was not available."
            return replace(verdict, feedback=f"{verdict.feedback} {note}")

    def _log_failure(self, task: LlmTask, error: BaseException) -> None:
        log.warning(
            "llm task failed, using offline fallback",
            extra={
                "task": task.value,
                "provider": self.provider.name,
                "error": type(error).__name__,
            },
        )
