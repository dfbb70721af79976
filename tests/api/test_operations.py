"""Health, metrics, database outages, request ids, security headers, CORS, body limits, logs,
the SECRET_KEY rules and the last-resort error handler."""

from __future__ import annotations

import inspect
import json
import logging

import httpx
import pytest

from api.app import create_app
from api.logs import JsonFormatter
from core.bootstrap import ConfigurationError
from core.store import InMemoryStore
from core.store.base import StoreUnavailable
from core.store.sql import SqlStore
from tests.api.conftest import (
    PASSWORD,
    SECRET,
    api_settings,
    client_for,
    make_services,
    new_session,
    register,
)


class OutageStore(InMemoryStore):
    """An in-memory store whose every call fails like an unreachable database while ``down``."""

    down = False

    def __getattribute__(self, name):
        attribute = super().__getattribute__(name)
        if (
            not name.startswith("_")
            and object.__getattribute__(self, "down")
            and inspect.iscoroutinefunction(attribute)
        ):

            async def unavailable(*_args, **_kwargs):
                raise StoreUnavailable(
                    "database postgresql://app@db/cc is unavailable (ConnectionRefusedError)"
                )

            return unavailable
        return attribute


async def test_livez_answers_without_the_database():
    store = OutageStore()
    store.down = True
    services = await make_services(InMemoryStore())
    services.store = store
    async with client_for(services) as client:
        response = await client.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


async def test_health_reports_a_connected_database(client):
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("healthy", "connected")
    assert set(body) == {"status", "database", "timestamp", "version"}
    assert body["timestamp"].endswith("+00:00")


async def test_a_database_outage_is_503_everywhere_and_health_says_so():
    store = OutageStore()
    services = await make_services(store)
    async with client_for(services) as client:
        ada = await register(client)
        sid = (await new_session(client, ada))["session_id"]
        store.down = True
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert health.json()["status"] == "unhealthy"
        for method, path, body in [
            ("GET", "/api/challenges", None),
            ("GET", f"/api/sessions/{sid}", None),
            ("POST", f"/api/sessions/{sid}/continue", {"step_id": "welcome"}),
            ("GET", "/api/me", None),
            ("GET", "/api/leaderboard", None),
            ("POST", "/api/auth/login", {"email": "ada@example.com", "password": PASSWORD}),
        ]:
            response = await client.request(method, path, json=body, headers=ada.headers)
            assert response.status_code == 503, path
            assert "unavailable" in response.json()["detail"]
            assert "postgresql://" not in response.text  # no connection details leak
            assert response.headers["Retry-After"]
        store.down = False
        assert (await client.get("/health")).status_code == 200
        assert (await client.get(f"/api/sessions/{sid}", headers=ada.headers)).status_code == 200
    await services.close()


async def test_a_postgres_url_on_a_closed_port_is_503():
    store = SqlStore("postgresql+asyncpg://postgres@127.0.0.1:9/nothing", connect_timeout=2)
    services = await make_services(InMemoryStore())
    services.store = store
    services.catalog._store = store
    async with client_for(services) as client:
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        challenges = await client.get("/api/challenges")
        assert challenges.status_code == 503
    await store.close()


async def test_metrics_expose_route_templates_sessions_and_errors(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    await client.get(f"/api/sessions/{sid}", headers=ada.headers)
    await client.get("/api/sessions/nope", headers=ada.headers)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'curiouscore_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/sessions/{session_id}"}'
        in text
    )
    assert sid not in text  # labels are templates, never raw paths
    assert (
        'curiouscore_http_errors_total{method="GET",route="/api/sessions/{session_id}",status="404"} 1.0'
        in text
    )
    assert "curiouscore_sessions_started_total 1.0" in text
    # the scrape itself is the one request being answered (the others have finished)
    assert "\ncuriouscore_http_requests_in_progress 1.0\n" in text
    assert 'curiouscore_sessions_completed_total{result="passed"} 0.0' in text
    # The LLM layer's families share the registry (the start narrated the first step).
    assert "curiouscore_llm_calls_total{" in text
    assert "# TYPE curiouscore_llm_cost_usd_total counter" in text


async def test_request_ids_are_echoed_or_made(client):
    given = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made.headers["X-Request-ID"] != "bad id\twith spaces"
    assert len(made.headers["X-Request-ID"]) == 32


async def test_security_headers_and_a_strict_csp(client):
    api = await client.get("/api/challenges")
    csp = api.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert api.headers["X-Frame-Options"] == "DENY"
    assert api.headers["Referrer-Policy"] == "no-referrer"
    assert api.headers["Cache-Control"] == "no-store"
    index = await client.get("/")
    assert index.status_code == 200
    assert index.headers["Content-Security-Policy"] == csp
    assert '<script type="module"' in index.text
    probe = await client.head("/")
    assert probe.status_code == 200 and probe.content == b""
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]
    css = await client.get("/highlight.css")
    assert css.status_code == 200 and ".code .hl-k" in css.text


async def test_openapi_names_every_path_of_the_contract(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    expected = {
        "/health": {"get"},
        "/livez": {"get"},
        "/metrics": {"get"},
        "/api/auth/register": {"post"},
        "/api/auth/login": {"post"},
        "/api/auth/refresh": {"post"},
        "/api/auth/logout": {"post"},
        "/api/me": {"get"},
        "/api/me/link-code": {"get", "post"},
        "/api/challenges": {"get"},
        "/api/challenges/{challenge_id}": {"get"},
        "/api/sessions": {"get", "post"},
        "/api/sessions/{session_id}": {"get"},
        "/api/sessions/{session_id}/start": {"post"},
        "/api/sessions/{session_id}/answer": {"post"},
        "/api/sessions/{session_id}/continue": {"post"},
        "/api/sessions/{session_id}/hint": {"post"},
        "/api/sessions/{session_id}/abandon": {"post"},
        "/api/sessions/{session_id}/events": {"get"},
        "/api/sessions/{session_id}/stream": {"get"},
        "/api/sessions/{session_id}/run": {"post"},
        "/api/leaderboard": {"get"},
        "/api/admin/analytics": {"get"},
        "/api/admin/item-analysis/{challenge_id}": {"get"},
        "/api/review/queue": {"get"},
        "/api/review/stats": {"get"},
        "/api/review/{review_id}": {"post"},
    }
    assert {path: set(ops) for path, ops in paths.items()} == expected
    login = paths["/api/auth/login"]["post"]["requestBody"]["content"]
    assert set(login) == {"application/json", "application/x-www-form-urlencoded"}


async def test_cors_allows_only_the_configured_origins():
    services = await make_services(cors_origins="https://app.example.com, http://localhost:8080")
    async with client_for(services) as client:
        allowed = await client.options(
            "/api/challenges",
            headers={"Origin": "http://localhost:8080", "Access-Control-Request-Method": "GET"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
        simple = await client.get("/api/challenges", headers={"Origin": "https://app.example.com"})
        assert simple.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        other = await client.get("/api/challenges", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
    await services.close()


async def test_a_body_over_the_limit_is_413(client):
    ada = await register(client)
    big = {"step_id": "welcome", "answer": "x" * (70 * 1024)}
    sid = (await new_session(client, ada))["session_id"]
    declared = await client.post(f"/api/sessions/{sid}/answer", json=big, headers=ada.headers)
    assert declared.status_code == 413
    assert "64 KiB" in declared.json()["detail"]

    async def chunks():
        for _ in range(80):
            yield b"x" * 1024

    streamed = await client.post(
        f"/api/sessions/{sid}/answer",
        content=chunks(),
        headers={**ada.headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


async def test_a_login_that_is_neither_json_nor_a_form_is_400(client):
    response = await client.post(
        "/api/auth/login", content=b"ada:secret", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


async def test_an_unexpected_error_is_a_generic_json_500_with_the_request_id(services, caplog):
    async def broken(limit=10):
        raise RuntimeError("internal detail: db password hunter2")

    services.learners.leaderboard = broken  # type: ignore[method-assign]
    async with client_for(services) as client:
        response = await client.get("/api/leaderboard", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "something went wrong on our side; please try again (request id req-500)"
    }
    assert "hunter2" not in response.text
    [record] = [r for r in caplog.records if r.message == "unexpected error"]
    assert json.loads(JsonFormatter().format(record))["request_id"] == "req-500"


async def test_logs_never_contain_passwords_tokens_or_answer_keys(services, caplog):
    caplog.set_level(logging.DEBUG)
    async with client_for(services) as client:
        ada = await register(client)
        login = await client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        await client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": "wrong-pass-1"}
        )
        refreshed = await client.post(
            "/api/auth/refresh", json={"refresh_token": ada.refresh_token}
        )
        view = await new_session(client, ada)
        code = (await client.post("/api/me/link-code", headers=ada.headers)).json()["code"]
        # Reuse (last: it ends every access token of the account).
        await client.post("/api/auth/refresh", json={"refresh_token": ada.refresh_token})
    secrets = [
        PASSWORD,
        "wrong-pass-1",
        SECRET,
        ada.access_token,
        ada.refresh_token,
        login.json()["access_token"],
        login.json()["refresh_token"],
        code,
        "SECRET-REFERENCE",
        "$argon2id$",
    ]
    if refreshed.status_code == 200:
        secrets += [refreshed.json()["access_token"], refreshed.json()["refresh_token"]]
    formatter = JsonFormatter()
    lines = caplog.text + "\n".join(formatter.format(r) for r in caplog.records)
    assert view["session_id"] in lines  # the logs do say what happened
    assert "refresh token reused" in lines
    for secret in secrets:
        assert secret not in lines


def test_the_json_formatter_redacts_sensitive_extras_and_token_shapes():
    record = logging.makeLogRecord(
        {
            "msg": "Authorization: Bearer abc.def.ghi and eyJhbGciOi.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
            "password": "hunter2",
            "refresh_token": "r",
            "learner_id": "ada",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert "abc.def" not in line["message"] and "eyJhbGciOi" not in line["message"]
    assert line["password"] == line["refresh_token"] == "[redacted]"
    assert line["learner_id"] == "ada"


@pytest.mark.parametrize(
    ("env", "secret", "ok"),
    [
        ("production", None, False),
        ("production", "too-short", False),
        ("test", "x" * 31, False),
        ("production", "x" * 32, False),
        ("production", "a" * 32, False),
        ("production", "password" * 4, False),
        ("production", "abcdefghijklmnopqrstuvwxyz012345", False),
        ("production", "2f9c0d6e8a4b17c3e5f0a9d2b6c8e1f4", True),
        ("development", None, True),
        ("development", "weak", True),
    ],
)
async def test_secret_key_rules(env, secret, ok, caplog):
    settings = api_settings(env=env, secret_key=secret)
    if not ok:
        with pytest.raises(ConfigurationError, match="SECRET_KEY"):
            create_app(settings=settings)
        return
    app = create_app(settings=settings)
    assert app.title == "CuriousCore"
    if env == "development":
        assert "random key for this development process" in caplog.text


async def test_a_development_key_works_and_is_never_logged(caplog):
    services = await make_services(env="development", secret_key=None)
    app = create_app(services)
    runtime = app.state.runtime
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        ada = await register(client)
        assert (await client.get("/api/me", headers=ada.headers)).status_code == 200
    assert runtime.tokens._secret not in caplog.text
    await services.close()


async def test_the_lifespan_builds_services_and_seeds_the_shipped_challenges(tmp_path):
    settings = api_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    app = create_app(settings=settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        ids = [c["id"] for c in (await client.get("/api/challenges")).json()]
        assert "python-functions" in ids
        assert (await client.get("/health")).json()["database"] == "connected"
