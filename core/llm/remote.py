"""What the three SDK providers share: rendering the task, timing the call, pricing it, and
turning the reply into a :class:`TextResult` or a validated :class:`Verdict`.

A provider module only implements :meth:`RemoteProvider._complete` (one request through its SDK,
its exceptions mapped onto :mod:`core.llm.errors`) and :meth:`RemoteProvider.aclose`.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from core.engine.commands import Verdict
from core.engine.events import LlmTrace
from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, TextResult
from core.llm.errors import GraderError, LlmError, Refused
from core.llm.pricing import PriceTable
from core.llm.prompts import Prompt, evaluation_prompt, hint_prompt, narration_prompt
from core.llm.verdicts import load_json_object, parse_verdict

MAX_TEXT = {"narration": 900, "hint": 600}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Completion:
    """One provider reply: the exact model the API reported, token counts and the output."""

    model: str
    tokens_in: int
    tokens_out: int
    text: str = ""
    data: dict[str, Any] | None = None
    refused: bool = False


class RemoteProvider(ABC):
    """A provider reached through an SDK; subclasses set ``name`` and implement ``_complete``."""

    name: str = "remote"

    def __init__(self, *, model: str, prices: PriceTable, timeout_seconds: float) -> None:
        self.model = model
        self._prices = prices
        self._timeout_seconds = timeout_seconds

    @abstractmethod
    async def _complete(self, prompt: Prompt) -> Completion:
        """Send ``prompt`` (with its schema, if any) and return the reply; raise LlmError."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the SDK client's connections."""

    async def narrate(self, request: NarrationRequest) -> TextResult:
        """Two or three sentences of narration for the step being entered."""
        text, trace = await self._text(narration_prompt(request), MAX_TEXT["narration"])
        return TextResult(text, trace)

    async def hint(self, request: HintRequest) -> TextResult:
        """A Socratic hint that does not give the answer away."""
        text, trace = await self._text(hint_prompt(request), MAX_TEXT["hint"])
        return TextResult(text, trace)

    async def evaluate(self, request: EvaluationRequest) -> Verdict:
        """Grade the answer against the rubric; an unusable verdict raises GraderError."""
        prompt = evaluation_prompt(request)
        completion, trace = await self._call(prompt)
        data = completion.data
        if data is None:
            try:
                data = load_json_object(completion.text)
            except GraderError as error:
                raise GraderError(str(error), trace=trace) from None
        return parse_verdict(data, request, grader=self.name, trace=trace)

    async def _text(self, prompt: Prompt, limit: int) -> tuple[str, LlmTrace]:
        completion, trace = await self._call(prompt)
        text = _CONTROL.sub("", completion.text).strip().strip('"').strip()
        if not text:
            raise LlmError(f"{self.name} returned no text", trace=trace)
        if len(text) > limit:
            cut = text[:limit]
            end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
            text = cut[: end + 1] if end > 0 else cut.rstrip() + "…"
        return text, trace

    async def _call(self, prompt: Prompt) -> tuple[Completion, LlmTrace]:
        started = time.perf_counter()
        completion = await self._complete(prompt)
        latency_ms = round((time.perf_counter() - started) * 1000)
        trace = LlmTrace(
            provider=self.name,
            model=completion.model or self.model,
            prompt_hash=prompt.hash,
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            cost_usd=self._prices.cost(
                completion.model or self.model, completion.tokens_in, completion.tokens_out
            ),
            latency_ms=latency_ms,
        )
        if completion.refused:
            raise Refused(f"{self.name} declined the {prompt.task.value} task", trace=trace)
        return completion, trace
