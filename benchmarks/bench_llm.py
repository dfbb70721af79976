"""LLM-layer benchmarks: offline evaluator latency, orchestration overhead, cache hits.

Run: ``.venv/bin/python -m benchmarks.bench_llm [--calls N] [--quick]``. Prints tables; the figures
measured on our machine are in benchmarks/README.md.

* Offline evaluator latency per answer (p50/p99) over the shipped challenges' labelled answers and,
  when ``../shared/datasets`` is there, the Mohler et al. answers.
* Orchestration overhead: each SDK's raw call against the local fake provider server (the same one
  the tests use), then the same evaluation through our provider class (prompt rendering, verdict
  validation) and through the orchestrator (deadline, rate limit, concurrency cap, metrics; the
  cache off). The difference is what our layer adds on top of the HTTP round trip.
* Cache hit latency: the same evaluation asked again through the orchestrator.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from core.authoring.playthrough import evaluation_request
from core.content import load_challenge_file, to_spec
from core.engine import StepKind
from core.engine.events import LlmTrace
from core.llm.base import EvaluationRequest, RubricCriterion
from core.llm.metrics import LlmMetrics
from core.llm.offline import evaluate_offline
from core.llm.orchestrator import LlmOrchestrator, LlmPolicy
from core.llm.pricing import PriceTable
from core.llm.prompts import VERDICT_TOOL, Prompt, evaluation_prompt
from core.llm.remote import RemoteProvider
from tests.core.llm.fake_server import FakeLlmServer

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("CURIOUSCORE_DATASETS", ROOT.parent / "shared" / "datasets"))
MODELS = {"anthropic": "claude-sonnet-4-6", "openai": "gpt-4.1-mini", "gemini": "gemini-2.5-flash"}
TRACE = LlmTrace("offline", "bench")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def shipped_requests() -> list[EvaluationRequest]:
    requests = []
    for path in sorted((ROOT / "challenges").glob("*.yaml")):
        challenge = load_challenge_file(path)
        spec = to_spec(challenge)
        for step_file in challenge.steps:
            if step_file.type != "chat":
                continue
            step = next(s for s in spec.steps if s.id == step_file.id)
            assert step.kind is StepKind.CHAT
            requests += [evaluation_request(step, e.answer) for e in step_file.examples]
    return requests


def mohler_requests() -> list[EvaluationRequest]:
    path = DATASETS / "mohler" / "mohler2011_unt_v2.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        EvaluationRequest(
            prompt=row["question"],
            rubric=(RubricCriterion("answer", "Covers the reference answer.", 5),),
            reference_answer=row["reference_answer"],
            answer=row["student_answer"],
            points=5,
            pass_threshold=60,
        )
        for row in rows
    ]


def offline_latency(requests: list[EvaluationRequest], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for request in requests:
            started = time.perf_counter()
            evaluate_offline(request, trace=TRACE)
            samples.append(time.perf_counter() - started)
    return samples


def build(name: str, url: str) -> RemoteProvider:
    common: dict[str, Any] = {
        "api_key": "bench-key",
        "model": MODELS[name],
        "prices": PriceTable(),
        "timeout_seconds": 10.0,
    }
    if name == "anthropic":
        from core.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(base_url=url, **common)
    if name == "openai":
        from core.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(base_url=f"{url}/v1", **common)
    from core.llm.gemini_provider import GeminiProvider

    return GeminiProvider(base_url=url, **common)


async def raw_sdk_call(provider: RemoteProvider, prompt: Prompt) -> object:
    """The SDK call alone, with the same payload our provider sends (no mapping, no validation)."""
    client: Any = getattr(provider, "_client")  # noqa: B009 - the provider's own SDK client
    schema = prompt.schema or {}
    if provider.name == "anthropic":
        return await client.messages.create(
            model=provider.model,
            max_tokens=prompt.max_tokens,
            system=prompt.system,
            messages=[{"role": "user", "content": prompt.user}],
            tools=[{"name": VERDICT_TOOL, "input_schema": schema, "strict": True}],
            tool_choice={"type": "tool", "name": VERDICT_TOOL},
            extra_body={"temperature": prompt.temperature},
        )
    if provider.name == "openai":
        return await client.chat.completions.create(
            model=provider.model,
            temperature=prompt.temperature,
            max_completion_tokens=prompt.max_tokens,
            messages=[
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "verdict", "strict": True, "schema": schema},
            },
        )
    from google.genai import types

    from core.llm.gemini_provider import gemini_schema

    return await client.aio.models.generate_content(
        model=provider.model,
        contents=prompt.user,
        config=types.GenerateContentConfig(
            system_instruction=prompt.system,
            temperature=prompt.temperature,
            max_output_tokens=prompt.max_tokens,
            response_mime_type="application/json",
            response_schema=gemini_schema(schema),
        ),
    )


async def interleaved(
    calls: int, paths: list[Callable[[int], Awaitable[object]]]
) -> list[list[float]]:
    """Time each path ``calls`` times, taking them in turn; the first round is a warm-up."""
    samples: list[list[float]] = [[] for _ in paths]
    for i in range(-1, calls):
        for path, times in zip(paths, samples, strict=True):
            started = time.perf_counter()
            await path(i)
            if i >= 0:
                times.append(time.perf_counter() - started)
    return samples


def answer(i: int) -> str:
    return f"Functions let you reuse code ({i}) and name a block of logic."


async def overhead(server: FakeLlmServer, calls: int) -> list[list[object]]:
    base = evaluation_request(
        next(s for s in shipped_spec().steps if s.kind is StepKind.CHAT), answer(0)
    )
    rows: list[list[object]] = []

    def request(i: int) -> EvaluationRequest:
        return EvaluationRequest(
            base.prompt, base.rubric, base.reference_answer, answer(i), base.points, 60
        )

    for name in MODELS:
        rows.append(await _overhead_row(build(name, server.url), request, calls))
    return rows


async def _overhead_row(
    provider: RemoteProvider, request: Callable[[int], EvaluationRequest], calls: int
) -> list[object]:
    # No rate limit in the way; the cache off except for the cache-hit column.
    policy = LlmPolicy(timeout_seconds=10, max_requests_per_minute=1_000_000, cache_size=0)
    orchestrator = LlmOrchestrator(provider, policy=policy, metrics=LlmMetrics(CollectorRegistry()))
    cached = LlmOrchestrator(provider, policy=LlmPolicy(max_requests_per_minute=1_000_000))
    try:
        # Interleaved, so drift on the machine hits the three paths alike.
        raw, wrapped, orchestrated = await interleaved(
            calls,
            [
                lambda i: raw_sdk_call(provider, evaluation_prompt(request(i))),
                lambda i: provider.evaluate(request(i)),
                lambda i: orchestrator.evaluate(request(i)),
            ],
        )
        await cached.evaluate(request(0))
        [hits] = await interleaved(calls, [lambda i: cached.evaluate(request(0))])
    finally:
        await provider.aclose()
    p50 = statistics.median
    return [
        provider.name,
        f"{ms(p50(raw))} / {ms(percentile(raw, 99))}",
        ms(p50(wrapped)),
        f"{ms(p50(orchestrated))} / {ms(percentile(orchestrated, 99))}",
        ms(p50(orchestrated) - p50(raw)),
        f"{us(p50(hits))} / {us(percentile(hits, 99))}",
    ]


def shipped_spec() -> Any:
    return to_spec(load_challenge_file(ROOT / "challenges" / "python-functions.yaml"))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="LLM-layer benchmarks")
    parser.add_argument("--calls", type=int, default=200, help="calls per provider and path")
    parser.add_argument("--quick", action="store_true", help="a smoke run (20 calls, 1 round)")
    args = parser.parse_args()
    calls = 20 if args.quick else args.calls
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )

    rows = []
    for label, requests, rounds in (
        ("shipped challenge examples", shipped_requests(), 1 if args.quick else 50),
        ("Mohler et al. answers", mohler_requests(), 1 if args.quick else 3),
    ):
        if not requests:
            continue
        samples = offline_latency(requests, rounds)
        rows.append(
            [label, len(samples), us(statistics.median(samples)), us(percentile(samples, 99))]
        )
    print("\nOffline evaluator, per answer\n")
    print(table(["answers", "n", "p50", "p99"], rows))

    server = FakeLlmServer().start()
    try:
        overhead_rows = asyncio.run(overhead(server, calls))
    finally:
        server.stop()
    print(f"\nEvaluation against the local fake server ({calls} calls each, sequential)\n")
    print(
        table(
            [
                "provider",
                "raw SDK call p50 / p99",
                "provider p50",
                "orchestrator p50 / p99",
                "overhead p50",
                "cache hit p50 / p99",
            ],
            overhead_rows,
        )
    )


if __name__ == "__main__":
    main()
