"""The Discord bot under test: the real discord.py client against a fake Discord on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from argon2 import PasswordHasher

from bots.common.ids import decode
from bots.discord.api import use_api
from bots.discord.bot import AnyBot, create_bot
from bots.discord.options import DiscordOptions
from core.bootstrap import Services, build_services
from core.config import Settings
from core.content import ChallengeFile
from core.service.clock import SystemClock
from core.store import InMemoryStore, open_store
from core.store.base import Store
from tests.bots.discord.fake_discord import FakeDiscord

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
TIMEOUT = 10.0

QUIZ: dict[str, Any] = {
    "id": "quiz",
    "title": "A small quiz",
    "summary": "Five kinds of step.",
    "xp": 100,
    "passing_score": 50,
    "steps": [
        {
            "id": "welcome",
            "type": "gate",
            "title": "Welcome",
            "body": "Hello **learner** @everyone.",
            "narrate": True,
            "narration": "Welcome, traveller.",
        },
        {
            "id": "pick",
            "type": "mcq",
            "title": "Pick",
            "prompt": "Which is right?",
            "points": 10,
            "hints": ["Think about `right`."],
            "choices": [
                {"text": "right", "correct": True},
                {"text": "wrong"},
                {"text": "also wrong"},
            ],
        },
        {
            "id": "several",
            "type": "multi",
            "title": "Several",
            "prompt": "Pick the even numbers.",
            "points": 10,
            "choices": [
                {"text": "2", "correct": True},
                {"text": "3"},
                {"text": "4", "correct": True},
            ],
        },
        {
            "id": "truth",
            "type": "true_false",
            "title": "Truth",
            "prompt": "The sky is blue.",
            "answer": True,
            "points": 10,
        },
        {
            "id": "explain",
            "type": "chat",
            "title": "Explain",
            "prompt": "Why write functions?",
            "points": 20,
            "rubric": [
                {
                    "id": "reuse",
                    "description": "Mentions reuse.",
                    "points": 10,
                    "concepts": ["reuse", "reused"],
                },
                {
                    "id": "names",
                    "description": "Mentions naming.",
                    "points": 10,
                    "concepts": ["name", "named"],
                },
            ],
            "reference_answer": "Functions let you reuse named logic.",
        },
    ],
}


async def make_services(
    store: Store | None = None, *, publish: bool = True, **settings: Any
) -> Services:
    services = await build_services(
        Settings(env="test", database_url="memory://", discord_token="fake-token", **settings),
        store=store or InMemoryStore(),
        clock=SystemClock(),
        password_hasher=FAST_HASHER,
    )
    if publish:
        await services.catalog.publish(ChallengeFile.model_validate(QUIZ), at=services.clock.now())
    return services


async def sqlite_services(path: str, *, publish: bool = True, **settings: Any) -> Services:
    store = await open_store(f"sqlite+aiosqlite:///{path}")
    return await make_services(store, publish=publish, **settings)


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    built = await make_services()
    yield built
    await built.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    use_api(server.api_url)
    try:
        yield server
    finally:
        use_api(None)
        await server.stop()


def bot_options(**changes: Any) -> DiscordOptions:
    values: dict[str, Any] = {
        "archive_after_seconds": 0.1,
        "edit_interval_seconds": 1.0,
        "message_content": False,
        **changes,
    }
    return DiscordOptions(**values)


@asynccontextmanager
async def running_bot(
    services: Services, fake: FakeDiscord, options: DiscordOptions | None = None
) -> AsyncIterator[AnyBot]:
    """A real discord.py bot logged in to the fake; always closed on the way out."""
    bot = create_bot(services, options or bot_options(), api_url=fake.api_url)
    task = asyncio.create_task(bot.start("fake-token"))
    try:
        await fake.wait_for(lambda: bot.is_ready() or task.done(), TIMEOUT, "the bot to be ready")
        if task.done():
            task.result()
        yield bot
    finally:
        await asyncio.wait_for(bot.close(), TIMEOUT)
        await asyncio.wait_for(task, TIMEOUT)


# -- reading what the bot sent ---------------------------------------------------------------------


def components_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row["components"]]


def find_component(
    messages: list[dict[str, Any]], action: str, arg: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The latest message holding a component with this action (and arg), and the component."""
    for message in reversed(messages):
        for component in components_of(message):
            parsed = decode(component.get("custom_id", ""))
            if parsed and parsed.action == action and (arg is None or parsed.arg == arg):
                return message, component
    raise AssertionError(f"no component {action}:{arg} in {len(messages)} messages")
