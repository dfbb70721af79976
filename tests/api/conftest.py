"""The API under test: ``create_app`` over real services (in-memory, SQLite or PostgreSQL stores),
driven through httpx's ASGI transport."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from api.app import create_app
from core.bootstrap import Services, build_services
from core.config import Settings
from core.content import ChallengeFile
from core.service.clock import SystemClock
from core.store import InMemoryStore, migrate, open_store
from core.store.engine import create_store_engine

POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SECRET = "test-secret-key-long-enough-for-every-hmac-algorithm-0123456789abcdef"
PASSWORD = "a sturdy passphrase"
# Cheap argon2id parameters: the same code path, a thousandth of the cost.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

XSS = "<img src=x onerror=alert(1)>"

QUIZ: dict[str, Any] = {
    "id": "quiz",
    "title": "A small quiz",
    "summary": "Five kinds of step, *one* quiz.",
    "xp": 100,
    "passing_score": 50,
    "steps": [
        {
            "id": "welcome",
            "type": "gate",
            "title": "Welcome",
            "body": f"Hello **learner**.\n\n```python\ndef f():\n    return 1\n```\n\n{XSS} [x](javascript:alert(1))",
            "narrate": True,
            "narration": "Welcome, <script>alert(1)</script> traveller.",
        },
        {
            "id": "pick",
            "type": "mcq",
            "title": "Pick",
            "prompt": "Which is **right**?",
            "points": 10,
            "hints": ["Think about `right`."],
            "choices": [
                {"text": "`right`", "correct": True},
                {"text": "wrong", "feedback": "No."},
                {"text": "also wrong"},
            ],
            "explanation": "Right is right.",
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
            "reference_answer": "SECRET-REFERENCE Functions let you reuse named logic.",
            "examples": [{"answer": "reuse named code", "expect": "pass"}],
        },
    ],
}


def api_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": "memory://",
        "secret_key": SECRET,
        "log_level": "INFO",
        **changes,
    }
    return Settings(**values)


async def make_services(store: Any = None, **settings: Any) -> Services:
    services = await build_services(
        api_settings(**settings),
        store=store or InMemoryStore(),
        clock=SystemClock(),
        password_hasher=FAST_HASHER,
    )
    await services.catalog.publish(ChallengeFile.model_validate(QUIZ), at=services.clock.now())
    return services


async def reset_postgres() -> str:
    engine = create_store_engine(POSTGRES_URL, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    await migrate(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def service_settings() -> dict[str, Any]:
    """Settings the ``services`` fixtures change; a test module overrides this fixture."""
    return {}


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def any_services(
    request: pytest.FixtureRequest, tmp_path, service_settings: dict[str, Any]
) -> AsyncIterator[Services]:
    """The same services over each store: in-memory, SQLite and PostgreSQL."""
    if request.param == "memory":
        store = InMemoryStore()
    elif request.param == "sqlite":
        store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    else:
        store = await open_store(await reset_postgres())
    services = await make_services(store, **service_settings)
    yield services
    await services.close()


@pytest.fixture
async def services(service_settings: dict[str, Any]) -> AsyncIterator[Services]:
    built = await make_services(**service_settings)
    yield built
    await built.close()


def client_for(services: Services, settings: Settings | None = None) -> httpx.AsyncClient:
    app = create_app(services, settings or services.settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services) as http:
        yield http


@pytest.fixture
async def any_client(any_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(any_services) as http:
        yield http


@dataclass
class Learner:
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(
    http: httpx.AsyncClient, email: str = "ada@example.com", name: str = "Ada"
) -> Learner:
    response = await http.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "display_name": name}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Learner(email, body["access_token"], body["refresh_token"])


async def admin(http: httpx.AsyncClient, services: Services) -> Learner:
    await services.accounts.create_admin("root@example.com", PASSWORD, "Root")
    response = await http.post(
        "/api/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Learner("root@example.com", body["access_token"], body["refresh_token"])


async def new_session(http: httpx.AsyncClient, learner: Learner, start: bool = True) -> dict:
    response = await http.post(
        "/api/sessions", json={"challenge_id": "quiz"}, headers=learner.headers
    )
    assert response.status_code == 201, response.text
    view = response.json()
    if start:
        response = await http.post(
            f"/api/sessions/{view['session_id']}/start", headers=learner.headers
        )
        assert response.status_code == 200, response.text
        view = response.json()
    return view
