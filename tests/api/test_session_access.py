"""The hot session routes check the access token in the statement that does their work (issue 17):
create, start, continue, answer, hint and the state read. A token that no longer works (sign-out,
refresh-token reuse, role change) gets a 401 from each of them, with nothing appended and no
session data, replays of its earlier requests included, in this process and in another one at
once. On PostgreSQL such a request is one round trip.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from core.bootstrap import Services
from core.service.actor import SESSION_ENDED
from core.store import open_store
from core.store.sql_raw import STATEMENTS
from tests.api.conftest import (
    Learner,
    admin,
    client_for,
    make_services,
    new_session,
    register,
    reset_postgres,
)

Revoke = Callable[[httpx.AsyncClient, Services, Learner], Awaitable[None]]


async def sign_out(http: httpx.AsyncClient, services: Services, learner: Learner) -> None:
    response = await http.post("/api/auth/logout", json={"refresh_token": learner.refresh_token})
    assert response.status_code == 204


async def reuse_refresh_token(
    http: httpx.AsyncClient, services: Services, learner: Learner
) -> None:
    for status in (200, 401):  # the second use of a spent token revokes the family
        response = await http.post(
            "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
        )
        assert response.status_code == status


async def change_role(http: httpx.AsyncClient, services: Services, learner: Learner) -> None:
    await services.accounts.promote(learner.email, "reviewer")


REVOCATIONS = [
    pytest.param(sign_out, id="sign-out"),
    pytest.param(reuse_refresh_token, id="refresh-reuse"),
    pytest.param(change_role, id="role-change"),
]


def requests(sid: str) -> list[tuple[str, str, dict[str, Any] | None, str | None]]:
    """Every folded route, and replays (same Idempotency-Key) of requests recorded earlier."""
    return [
        ("POST", "/api/sessions", {"challenge_id": "quiz"}, None),
        ("GET", f"/api/sessions/{sid}", None, None),
        ("POST", f"/api/sessions/{sid}/start", None, None),
        ("POST", f"/api/sessions/{sid}/continue", {"step_id": "welcome"}, "k-continue"),
        ("POST", f"/api/sessions/{sid}/hint", {"step_id": "pick"}, None),
        ("POST", f"/api/sessions/{sid}/hint", {"step_id": "pick"}, "k-hint"),
        ("POST", f"/api/sessions/{sid}/answer", {"step_id": "pick", "answer": 0}, "k-answer"),
        ("POST", f"/api/sessions/{sid}/answer", {"step_id": "several", "answer": [0, 2]}, None),
        ("POST", f"/api/sessions/{sid}/continue", {"step_id": "several"}, None),
        ("GET", "/api/sessions/no-such-session", None, None),
        ("POST", "/api/sessions", {"challenge_id": "no-such-challenge"}, None),
    ]


async def send(
    http: httpx.AsyncClient,
    learner: Learner,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    key: str | None,
) -> httpx.Response:
    headers = dict(learner.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await http.request(method, path, json=body, headers=headers)


async def played(http: httpx.AsyncClient, ada: Learner) -> str:
    """Ada's session, past the gate, a hint and an answer, each with an idempotency key."""
    sid: str = (await new_session(http, ada))["session_id"]
    for method, path, body, key in requests(sid)[3:7]:
        if key is not None:
            response = await send(http, ada, method, path, body, key)
            assert response.status_code == 200, response.text
    return sid


async def assert_refused_with_nothing_done(
    http: httpx.AsyncClient, services: Services, ada: Learner, sid: str
) -> None:
    learner_id = (await services.store.get_session_summary(sid)).learner_id  # type: ignore[union-attr]
    before = await services.store.read_stream(sid)
    sessions = await services.store.list_sessions(learner_id)
    for method, path, body, key in requests(sid):
        response = await send(http, ada, method, path, body, key)
        assert response.status_code == 401, (path, key, response.text)
        assert response.json() == {"detail": SESSION_ENDED}, (path, key)
    assert await services.store.read_stream(sid) == before
    assert await services.store.list_sessions(learner_id) == sessions


@pytest.mark.parametrize("revoke", REVOCATIONS)
async def test_a_revoked_token_gets_nothing_from_any_session_route(
    any_services: Services, revoke: Revoke
) -> None:
    async with client_for(any_services) as http:
        ada = await register(http)
        sid = await played(http, ada)
        await revoke(http, any_services, ada)
        await assert_refused_with_nothing_done(http, any_services, ada, sid)
        # Signing in again works on at once.
        login = await http.post(
            "/api/auth/login", json={"email": ada.email, "password": "a sturdy passphrase"}
        )
        again = Learner(ada.email, login.json()["access_token"], login.json()["refresh_token"])
        assert (await http.get(f"/api/sessions/{sid}", headers=again.headers)).status_code == 200


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_processes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Services, Services]]:
    """Two API processes on one database: their own caches (hydrated sessions, heads, tokens)."""
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
        if request.param == "sqlite"
        else await reset_postgres()
    )
    first = await make_services(await open_store(url))
    second = await make_services(await open_store(url))
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("revoke", REVOCATIONS)
async def test_a_revocation_in_one_process_ends_the_token_in_another_at_once(
    two_processes: tuple[Services, Services], revoke: Revoke
) -> None:
    first, second = two_processes
    async with client_for(first) as one, client_for(second) as other:
        ada = await register(one)
        sid = await played(one, ada)
        # The other process knows the session too (hydrated, its heads cached).
        assert (await other.get(f"/api/sessions/{sid}", headers=ada.headers)).status_code == 200
        await revoke(one, first, ada)
        await assert_refused_with_nothing_done(other, second, ada, sid)


async def test_an_admin_reads_any_session_until_demoted(any_services: Services) -> None:
    async with client_for(any_services) as http:
        ada = await register(http)
        sid = await played(http, ada)
        root = await admin(http, any_services)
        view = await http.get(f"/api/sessions/{sid}", headers=root.headers)
        assert view.status_code == 200 and view.json()["session_id"] == sid
        played_by_root = await send(http, root, *requests(sid)[7])
        assert played_by_root.status_code == 403
        await any_services.accounts.promote(root.email, "learner")
        demoted = await http.get(f"/api/sessions/{sid}", headers=root.headers)
        assert demoted.status_code == 401
        assert demoted.json() == {"detail": SESSION_ENDED}


# -- round trips (PostgreSQL) ------------------------------------------------------------------


@pytest.mark.postgres
async def test_each_session_request_is_one_round_trip() -> None:
    """Every statement counted: the raw path's (``STATEMENTS``) and SQLAlchemy's."""
    services = await make_services(await open_store(await reset_postgres()))
    core: Counter[str] = Counter()

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        core[statement.split()[0].lower()] += 1

    engine = services.store._engine.sync_engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", counted)
    try:
        async with client_for(services) as http:
            ada = await register(http)
            await played(http, ada)  # warm: statements prepared, catalogue cached

            async def statements(method: str, path: str, body: Any = None) -> Counter[str]:
                before = Counter(STATEMENTS)
                core.clear()
                response = await send(http, ada, method, path, body, uuid.uuid4().hex)
                assert response.status_code in (200, 201), response.text
                return (Counter(STATEMENTS) - before) + core

            create = await statements("POST", "/api/sessions", {"challenge_id": "quiz"})
            assert create == Counter(append=1)
            sid = (await http.get("/api/sessions", headers=ada.headers)).json()[0]["session_id"]
            session = f"/api/sessions/{sid}"
            assert await statements("POST", f"{session}/start") == Counter(append=1)
            assert await statements("GET", session) == Counter(read_stream=1)
            for path, body in [
                ("continue", {"step_id": "welcome"}),
                ("hint", {"step_id": "pick"}),
                ("answer", {"step_id": "pick", "answer": 0}),
            ]:
                assert await statements("POST", f"{session}/{path}", body) == Counter(append=1)
            assert await statements("GET", session) == Counter(read_stream=1)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
        await services.close()
