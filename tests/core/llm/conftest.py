from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, RubricCriterion
from core.llm.orchestrator import LlmOrchestrator, LlmPolicy
from core.llm.pricing import PriceTable
from core.llm.remote import RemoteProvider
from tests.core.llm.fake_server import FakeLlmServer

PROVIDERS = ["anthropic", "openai", "gemini"]
MODELS = {"anthropic": "claude-sonnet-4-6", "openai": "gpt-4.1-mini", "gemini": "gemini-2.5-flash"}
API_KEY = "sk-test-SECRET-do-not-log"

RUBRIC = (
    RubricCriterion("reuse", "Explains that code can be reused.", 10, ("reuse", "reused")),
    RubricCriterion("names", "Mentions naming a block of logic.", 10, ("name", "named")),
)


def evaluation(answer: str = "You can reuse a named block of logic.") -> EvaluationRequest:
    return EvaluationRequest(
        prompt="Why do programmers write functions?",
        rubric=RUBRIC,
        reference_answer="Functions let you reuse named logic.",
        answer=answer,
        points=20,
        pass_threshold=60,
    )


def narration() -> NarrationRequest:
    return NarrationRequest(
        challenge_title="Functions",
        tone="encouraging",
        persona="a friendly robot",
        step_title="Why functions?",
        step_body="Time to explain.",
        authored_text="Let's talk about functions.",
        progress_summary="Step 2 of 4; score so far 10 of 40.",
    )


def hint_request(previous_answers: tuple[str, ...] = ("Computers like them.",)) -> HintRequest:
    return HintRequest(
        challenge_title="Functions",
        step_title="Why functions?",
        step_kind="chat",
        prompt="Why do programmers write functions?",
        choices=(),
        rubric=RUBRIC,
        hint_index=1,
        previous_hints=("Think about repetition.",),
        previous_answers=previous_answers,
    )


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLlmServer]:
    server = FakeLlmServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_llm(fake_server: FakeLlmServer) -> Iterator[FakeLlmServer]:
    fake_server.reset()
    yield fake_server
    fake_server.reset()


def base_url(server: FakeLlmServer, provider: str) -> str:
    return f"{server.url}/v1" if provider == "openai" else server.url


def make_provider(server: FakeLlmServer, provider: str, *, timeout: float = 2.0) -> RemoteProvider:
    kwargs = {
        "api_key": API_KEY,
        "model": MODELS[provider],
        "prices": PriceTable(),
        "timeout_seconds": timeout,
        "base_url": base_url(server, provider),
    }
    if provider == "anthropic":
        from core.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(**kwargs)
    if provider == "openai":
        from core.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(**kwargs)
    from core.llm.gemini_provider import GeminiProvider

    return GeminiProvider(**kwargs)


FAST = LlmPolicy(
    timeout_seconds=2.0, max_retries=2, retry_base_seconds=0.01, retry_max_seconds=0.05
)


@pytest.fixture(params=PROVIDERS)
async def provider(request, fake_llm) -> AsyncIterator[RemoteProvider]:
    built = make_provider(fake_llm, request.param)
    yield built
    await built.aclose()


@pytest.fixture
def orchestrator(provider) -> LlmOrchestrator:
    return LlmOrchestrator(provider, policy=FAST)
