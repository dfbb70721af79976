"""Slack bot: ack latency while the LLM takes 5 s, events handled per second in HTTP mode, and the
burst case: ten learners starting at once in one channel, paced as Slack limits posts.

Signed requests go to ``/slack/events`` on the real FastAPI app (httpx ASGI transport) with the real
bolt app behind it, talking to the local fake Slack Web API. Nothing leaves the machine.

    .venv/bin/python -m benchmarks.bench_slack            # 50 chat answers, 500 events
    .venv/bin/python -m benchmarks.bench_slack --quick
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from typing import Any

import httpx

from api.app import create_app
from bots.slack.app import build_bot
from bots.slack.http import SlackEndpoint
from core.bootstrap import build_services
from core.content import ChallengeFile
from core.store import InMemoryStore
from tests.api.conftest import FAST_HASHER, QUIZ, api_settings
from tests.bots.slack.conftest import CHANNEL, SlackHarness, slack_settings
from tests.bots.slack.fake_slack import TEAM, FakeSlack
from tests.bots.slow_llm import SlowGrader

LLM_SECONDS = 5.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def harness(
    fake: FakeSlack, *, message_interval: float = 0, message_burst: int = 10
) -> SlackHarness:
    services = await build_services(
        api_settings(**slack_settings(fake)),
        store=InMemoryStore(),
        provider=SlowGrader(LLM_SECONDS),
        password_hasher=FAST_HASHER,
    )
    await services.catalog.publish(ChallengeFile.model_validate(QUIZ), at=services.clock.now())
    bot = await build_bot(services, message_interval=message_interval, message_burst=message_burst)
    endpoint = SlackEndpoint()
    endpoint.attach(bot)
    app = create_app(services, mounts=[("/slack", endpoint)])
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=30
    )
    return SlackHarness(services, fake, http, bot)


async def at_chat_step(slack: SlackHarness, n: int) -> list[str]:
    """``n`` learners, each with a session waiting at its chat step in its own thread."""
    threads = []
    game = slack.services.game
    for i in range(n):
        user = f"U{i:05d}"
        actor = await slack.services.chat.actor("slack", f"{TEAM}:{user}", user)
        start = await slack.services.chat.play(actor, "quiz")
        sid = start.view.session_id
        thread = f"1800000000.{i:06d}"
        await slack.services.chat.bind_thread(
            actor,
            platform="slack",
            scope_id=TEAM,
            thread_id=thread,
            channel_id=CHANNEL,
            session_id=sid,
        )
        await game.continue_gate(actor, sid, "welcome")
        await game.submit_answer(actor, sid, "pick", 0)
        await game.submit_answer(actor, sid, "several", (0, 2))
        await game.submit_answer(actor, sid, "truth", True)
        threads.append(thread)
    return threads


async def ack_latency(slack: SlackHarness, n: int) -> dict[str, Any]:
    threads = await at_chat_step(slack, n)
    latencies: list[float] = []

    async def answer(i: int, thread: str) -> None:
        started = time.perf_counter()
        response = await slack.reply("reuse with a good name", thread, user=f"U{i:05d}")
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200

    started = time.perf_counter()
    await asyncio.gather(*(answer(i, t) for i, t in enumerate(threads)))
    acked = time.perf_counter() - started
    # Each answer shows "Grading…" at once; the result then replaces it (chat.update).
    updated_before = len(slack.fake.of("chat.update"))
    await slack.fake.wait_calls("chat.update", updated_before + n, within=LLM_SECONDS * 4 + 30)
    graded = time.perf_counter() - started
    return {
        "answers": n,
        "ack p50 ms": 1000 * statistics.median(latencies),
        "ack p99 ms": 1000 * percentile(latencies, 0.99),
        "all acked s": acked,
        "all graded and posted s": graded,
    }


async def events_per_second(slack: SlackHarness, n: int, concurrency: int = 20) -> dict[str, Any]:
    """Thread replies in threads that hold no session: signature check, ack, one lookup each."""
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            response = await slack.reply("chatter", f"1900000000.{i:06d}", user="U0CHAT")
            assert response.status_code == 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"events": n, "seconds": elapsed, "events/s": n / elapsed}


async def burst_start(fake: FakeSlack, learners: int, burst: int) -> dict[str, Any]:
    """``learners`` run ``/curiouscore play`` at once in one channel with real pacing (1 post/s
    per channel after a burst of ``burst``); seconds until each one's step 1 is posted."""
    slack = await harness(fake, message_interval=1.0, message_burst=burst)
    fake.calls.clear()
    try:
        started = time.perf_counter()
        reached: list[float] = []

        async def play(i: int) -> None:
            await slack.command("play quiz", user=f"UBURST{burst:02d}{i:03d}")

        await asyncio.gather(*(play(i) for i in range(learners)))

        def step_ones(fake: FakeSlack) -> int:
            return sum(
                1
                for c in fake.of("chat.postMessage")
                if c.response.get("ok") and "Step 1/" in str(c.params.get("blocks"))
            )

        def more_than(count: int, f: FakeSlack) -> bool:
            return step_ones(f) > count

        seen = 0
        while seen < learners:
            await fake.wait_for(functools.partial(more_than, seen), within=60)
            now = step_ones(fake)
            reached.extend([time.perf_counter() - started] * (now - seen))
            seen = now
    finally:
        await slack.http.aclose()
        await slack.bot.aclose()
        await slack.services.close()
    return {
        "learners": learners,
        "burst": burst,
        "first step 1 s": reached[0],
        "last step 1 s": reached[-1],
    }


async def main(quick: bool) -> None:
    fake = FakeSlack()
    await fake.start()
    slack = await harness(fake)
    try:
        latency = await ack_latency(slack, 10 if quick else 50)
        rate = await events_per_second(slack, 100 if quick else 500)
    finally:
        await slack.http.aclose()
        await slack.bot.aclose()
        await slack.services.close()
    try:
        bursts = [await burst_start(fake, 10, burst) for burst in (1, 10)]
    finally:
        await fake.stop()
    print(f"LLM grading takes {LLM_SECONDS:g} s; Slack requires an ack within 3,000 ms")
    for name, value in {**latency, **rate}.items():
        print(f"{name:>26}: {value:,.1f}" if isinstance(value, float) else f"{name:>26}: {value}")
    print("\nten learners start at once in one channel (1 post/s per channel after the burst):")
    print("| burst | first step 1 (s) | last step 1 (s) |")
    print("|---|---|---|")
    for row in bursts:
        print(f"| {row['burst']} | {row['first step 1 s']:.2f} | {row['last step 1 s']:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
