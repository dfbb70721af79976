"""Discord bot: ack latency while the LLM takes 5 s, and interactions handled per second.

The real discord.py client (``bots.discord``) logs in to the local fake Discord of the tests
(``tests/bots/discord/fake_discord.py``: REST + gateway on 127.0.0.1), which then delivers
INTERACTION_CREATE payloads like Discord's. The fake runs in this process, on the same event loop
as the bot, so its own cost is inside every figure. Nothing leaves the machine; the run is bounded
by counts and a timeout per phase.

    .venv/bin/python -m benchmarks.bench_discord            # 50 chat answers, 500 mcq clicks
    .venv/bin/python -m benchmarks.bench_discord --quick    # 10 and 100
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr

from bots.common.ids import ComponentId, encode
from bots.discord.api import use_api
from bots.discord.bot import PLATFORM
from bots.discord.render import session_messages
from bots.discord.threads import post
from core.bootstrap import Services, build_services
from core.config import Settings
from core.content import ChallengeFile
from core.service.clock import SystemClock
from core.store import InMemoryStore
from tests.bots.discord.conftest import FAST_HASHER, QUIZ, bot_options, find_component, running_bot
from tests.bots.discord.fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.bots.slow_llm import SlowGrader

LLM_SECONDS = 5.0
ACK_LIMIT_MS = 3000.0
PHASE_TIMEOUT = 120.0
FIRST_USER = 910000000000000000


class TimedDiscord(FakeDiscord):
    """The test fake, noting when each interaction's response and final edit arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.acked: dict[str, float] = {}
        self.done: dict[str, asyncio.Event] = {}
        self.bot: Any = None  # the bot under test, to post steps through its own client

    async def _callback(self, body: Any, interaction_id: str, token: str) -> Any:
        self.acked.setdefault(interaction_id, time.perf_counter())
        return await super()._callback(body, interaction_id, token)

    async def _edit(self, body: Any, token: str, message_id: str) -> dict[str, Any]:
        # The bot's last request for an answer that closes a step: grey out its buttons.
        self.done.setdefault(token, asyncio.Event()).set()
        return await super()._edit(body, token, message_id)

    def finished(self, token: str) -> asyncio.Event:
        return self.done.setdefault(token, asyncio.Event())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@asynccontextmanager
async def bench_bot(fake: TimedDiscord) -> AsyncIterator[Services]:
    settings = Settings(
        env="test",
        database_url="memory://",
        discord_token=SecretStr("fake-token"),
        # One slow provider call per answer, all at once: the ack is what is measured.
        llm_max_concurrency=64,
        llm_max_requests_per_minute=100_000,
        llm_cache_size=0,
    )
    services = await build_services(
        settings,
        store=InMemoryStore(),
        clock=SystemClock(),
        provider=SlowGrader(LLM_SECONDS),
        password_hasher=FAST_HASHER,
    )
    await services.catalog.publish(ChallengeFile.model_validate(QUIZ), at=services.clock.now())
    try:
        async with running_bot(services, fake, bot_options(archive_after_seconds=300)) as bot:
            fake.bot = bot
            yield services
    finally:
        await services.close()


async def learners_at(services: Services, fake: TimedDiscord, n: int, step: str) -> list[Any]:
    """``n`` learners, each with a session in its own thread, waiting at ``step`` (``pick`` or
    ``explain``), the step posted in the thread by the bot's own rendering."""
    bot = fake.bot
    game = services.game
    seated = []
    for i in range(n):
        user_id = FIRST_USER + len(fake.threads())
        actor = await services.chat.actor(PLATFORM, str(user_id), f"learner{i}")
        view = (await services.chat.play(actor, "quiz")).view
        sid = view.session_id
        thread = await fake._create_thread({"name": f"quiz {i}", "type": 11}, str(CHANNEL_ID))
        assert isinstance(thread, dict)
        await services.chat.bind_thread(
            actor,
            platform=PLATFORM,
            scope_id=str(GUILD_ID),
            thread_id=thread["id"],
            channel_id=str(CHANNEL_ID),
            session_id=sid,
        )
        view = await game.continue_gate(actor, sid, "welcome")
        if step == "explain":
            await game.submit_answer(actor, sid, "pick", 0)
            await game.submit_answer(actor, sid, "several", (0, 2))
            view = await game.submit_answer(actor, sid, "truth", True)
        await post(bot.get_partial_messageable(int(thread["id"])), session_messages(view))
        # What the thread shows now, as the bot records it after posting.
        await services.chat.delivered(await services.chat.catch_up(sid))
        seated.append((user_id, sid, thread))
    await fake.wait_for(
        lambda: all(fake.channel_messages(int(t["id"])) for _, _, t in seated), 30, "step posts"
    )
    return seated


def modal_submit(
    fake: TimedDiscord, user_id: int, sid: str, thread: dict[str, Any], text: str
) -> dict[str, Any]:
    """The Answer modal's submission, as Discord delivers it (from the step message)."""
    message, _ = find_component(fake.channel_messages(int(thread["id"])), "modal")
    data = {
        "custom_id": encode(ComponentId(sid, "explain", "answer")),
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": text}]}
        ],
    }
    return fake.interaction(5, data, channel=thread, message=message, user_id=user_id)


def mcq_click(fake: TimedDiscord, user_id: int, thread: dict[str, Any]) -> dict[str, Any]:
    message, button = find_component(fake.channel_messages(int(thread["id"])), "answer", "0")
    data = {"custom_id": button["custom_id"], "component_type": button["type"]}
    return fake.interaction(3, data, channel=thread, message=message, user_id=user_id)


async def ack_under_slow_llm(fake: TimedDiscord, services: Services, n: int) -> dict[str, Any]:
    """``n`` learners submit a chat answer at the same moment; grading takes 5 s each."""
    seated = await learners_at(services, fake, n, "explain")
    payloads = [
        modal_submit(fake, user, sid, thread, f"Named functions can be reused, learner {i}.")
        for i, (user, sid, thread) in enumerate(seated)
    ]
    sent: dict[str, float] = {}
    started = time.perf_counter()
    for payload in payloads:
        sent[payload["id"]] = time.perf_counter()
        await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for(lambda: len(fake.acked.keys() & sent.keys()) == n, 30, "every ack")
    acked = time.perf_counter() - started
    finished = [fake.finished(p["token"]).wait() for p in payloads]
    await asyncio.wait_for(asyncio.gather(*finished), PHASE_TIMEOUT)
    graded = time.perf_counter() - started
    latencies = [1000 * (fake.acked[i] - at) for i, at in sent.items()]
    return {
        "answers": n,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "all acked s": acked,
        "all graded s": graded,
    }


async def clicks_per_second(
    fake: TimedDiscord, services: Services, n: int, in_flight: int
) -> dict[str, Any]:
    """``n`` learners each click the right answer of an mcq step, ``in_flight`` at a time.

    A click is handled when the bot has acked it, recorded the answer, posted the feedback and
    the next step in the thread, and greyed out the old buttons (its last request)."""
    seated = await learners_at(services, fake, n, "pick")
    payloads = [mcq_click(fake, user, thread) for user, _, thread in seated]
    slots = asyncio.Semaphore(in_flight)
    acks: list[float] = []
    totals: list[float] = []

    async def one(payload: dict[str, Any]) -> None:
        async with slots:
            at = time.perf_counter()
            await fake.dispatch("INTERACTION_CREATE", payload)
            await fake.finished(payload["token"]).wait()
            totals.append(1000 * (time.perf_counter() - at))
            acks.append(1000 * (fake.acked[payload["id"]] - at))

    requests_before = len(fake.requests)
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(p) for p in payloads)), PHASE_TIMEOUT)
    elapsed = time.perf_counter() - started
    return {
        "clicks": n,
        "in flight": in_flight,
        "seconds": elapsed,
        "per second": n / elapsed,
        "ack p50": statistics.median(acks),
        "ack p99": percentile(acks, 0.99),
        "handled p50": statistics.median(totals),
        "handled p99": percentile(totals, 0.99),
        "requests to the API per click": (len(fake.requests) - requests_before) / n,
    }


async def main(quick: bool, answers: int, clicks: int, in_flight: int) -> None:
    fake = TimedDiscord()
    await fake.start()
    use_api(fake.api_url)
    try:
        async with bench_bot(fake) as services:
            latency = await ack_under_slow_llm(fake, services, 10 if quick else answers)
            rate = await clicks_per_second(fake, services, 100 if quick else clicks, in_flight)
    finally:
        use_api(None)
        await fake.stop()
    print(f"Python {platform.python_version()}, {platform.machine()}; fake Discord on loopback")
    print()
    print(f"Chat answers (Answer modal submits) while the LLM takes {LLM_SECONDS:g} s each;")
    print(f"Discord requires the ack within {ACK_LIMIT_MS:,.0f} ms")
    print("| answers at once | ack p50 ms | ack p99 ms | ack max ms | all acked s | all graded s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {latency['answers']} | {latency['p50']:.1f} | {latency['p99']:.1f} | "
        f"{latency['max']:.1f} | {latency['all acked s']:.2f} | {latency['all graded s']:.2f} |"
    )
    print()
    print("mcq answer clicks, one per learner, handled end to end")
    print(
        "| clicks | in flight | seconds | clicks/s | ack p50 / p99 ms | handled p50 / p99 ms "
        "| API requests per click |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {rate['clicks']} | {rate['in flight']} | {rate['seconds']:.2f} | "
        f"{rate['per second']:.0f} | {rate['ack p50']:.1f} / {rate['ack p99']:.1f} | "
        f"{rate['handled p50']:.1f} / {rate['handled p99']:.1f} | "
        f"{rate['requests to the API per click']:.1f} |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--clicks", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.answers, args.clicks, args.in_flight))
