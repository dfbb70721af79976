from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.bootstrap import Services, build_services
from core.config import Settings
from core.content import ChallengeFile
from core.service.actor import Actor
from core.service.clock import FixedClock
from core.store import InMemoryStore, migrate, open_store

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

QUIZ = {
    "id": "quiz",
    "title": "A small quiz",
    "xp": 100,
    "passing_score": 70,
    "steps": [
        {
            "id": "welcome",
            "type": "gate",
            "title": "Welcome",
            "narrate": True,
            "narration": "Hello there.",
        },
        {
            "id": "pick",
            "type": "mcq",
            "title": "Pick",
            "prompt": "Which?",
            "points": 10,
            "hints": ["Think."],
            "choices": [
                {"text": "right", "correct": True},
                {"text": "wrong"},
                {"text": "also wrong"},
            ],
            "explanation": "Right is right.",
        },
        {
            "id": "truth",
            "type": "true_false",
            "title": "Truth",
            "prompt": "Sky is blue.",
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


def quiz(**changes) -> ChallengeFile:
    return ChallengeFile.model_validate({**QUIZ, **changes})


async def make_services(store, *, provider=None, snapshot_interval: int = 5) -> Services:
    settings = Settings(database_url="memory://", snapshot_interval=snapshot_interval)
    services = await build_services(settings, store=store, clock=FixedClock(), provider=provider)
    await services.catalog.publish(quiz(), at="2026-01-01T00:00:00+00:00")
    await services.learners.ensure_learner("ada", "Ada")
    await services.learners.ensure_learner("bob", "Bob")
    return services


@pytest.fixture
async def services() -> AsyncIterator[Services]:
    built = await make_services(InMemoryStore())
    yield built
    await built.close()


async def _fresh_postgres() -> str:
    engine = create_async_engine(PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await migrate(PG_URL)
    return PG_URL


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def any_services(request, tmp_path) -> AsyncIterator[Services]:
    """The same service over each of the three stores."""
    if request.param == "memory":
        store = InMemoryStore()
    elif request.param == "sqlite":
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    else:
        store = await open_store(await _fresh_postgres())
    built = await make_services(store)
    yield built
    await built.close()


ADA = Actor("ada")
BOB = Actor("bob")
