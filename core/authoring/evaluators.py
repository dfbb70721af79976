"""The evaluator an author validates with: offline by default, or a real provider from bootstrap.

Authoring code is synchronous (notebook cells, the CLI), while providers are async; a provider-backed
evaluator runs its calls on a private event loop in a background thread, so it works both inside a
Jupyter kernel (whose loop is already running) and from plain scripts.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass
from typing import Literal, Protocol, cast, get_args

from core.engine.commands import Verdict
from core.engine.events import LlmTrace
from core.llm.base import EvaluationRequest, LlmProvider
from core.llm.offline import OFFLINE_MODEL, evaluate_offline, prompt_hash
from core.llm.verdicts import with_review

ProviderName = Literal["offline", "anthropic", "openai", "gemini"]
PROVIDERS: tuple[str, ...] = get_args(ProviderName)


class Evaluator(Protocol):
    """Grades one chat answer against its rubric and returns the grader's verdict."""

    name: str

    def evaluate(self, request: EvaluationRequest) -> Verdict: ...

    def close(self) -> None: ...


class OfflineEvaluator:
    """The deterministic rubric-concept evaluator: no network, no key."""

    name = "offline"

    def evaluate(self, request: EvaluationRequest) -> Verdict:
        trace = LlmTrace("offline", OFFLINE_MODEL, prompt_hash(asdict(request)))
        return with_review(evaluate_offline(request, trace=trace))

    def close(self) -> None:
        return None


class ProviderEvaluator:
    """A real provider behind the orchestrator (deadline, then a provisional offline grade)."""

    def __init__(self, provider: LlmProvider, *, timeout_seconds: float = 30.0) -> None:
        from core.llm.orchestrator import LlmOrchestrator

        self.name = provider.name
        self._orchestrator = LlmOrchestrator(provider, timeout_seconds=timeout_seconds)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def evaluate(self, request: EvaluationRequest) -> Verdict:
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._orchestrator.evaluate(request), loop)
        return future.result()

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        aclose = getattr(self._orchestrator, "aclose", None)
        if aclose is not None:  # SDK clients hold connections bound to this loop
            asyncio.run_coroutine_threadsafe(aclose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = self._thread = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="authoring-llm", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop


@dataclass(frozen=True, slots=True)
class EvaluatorChoice:
    """The evaluator to use, and why it is not the one asked for (``None`` when it is)."""

    evaluator: Evaluator
    requested: str
    problem: str | None = None


def choose_evaluator(provider: str = "offline", model: str | None = None) -> EvaluatorChoice:
    """Return the evaluator for ``provider``; when that provider cannot be built (unknown, no key,
    not in this build), return the offline evaluator and say why."""
    if provider == "offline":
        return EvaluatorChoice(OfflineEvaluator(), provider)
    if provider not in PROVIDERS:
        problem = f"unknown provider {provider!r} (choose one of {', '.join(PROVIDERS)})"
        return EvaluatorChoice(OfflineEvaluator(), provider, problem)
    from core.bootstrap import ConfigurationError, build_provider
    from core.config import Settings

    try:
        settings = Settings(llm_provider=cast(ProviderName, provider), llm_model=model)
        built = build_provider(settings)
    except ConfigurationError as error:
        return EvaluatorChoice(OfflineEvaluator(), provider, str(error))
    evaluator = ProviderEvaluator(built, timeout_seconds=settings.llm_timeout_seconds)
    return EvaluatorChoice(evaluator, provider)
