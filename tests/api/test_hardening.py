"""Passwords and secrets at the HTTP edge: common passwords refused with the reason, error bodies
that never echo what was sent, /metrics behind a token in production, logs scrubbed of emails and
token digests at every level."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest

from api.app import create_app
from api.logs import configure_logging, scrub
from core.store import open_store
from tests.api.conftest import PASSWORD, make_services, new_session, register

SENT = "no-such-thing-xyzzy-1234"


@pytest.mark.parametrize("password", ["Passw0rd!", "qwerty12", "welcome1", "football"])
async def test_registering_with_a_common_password_is_a_422_that_says_why(client, password):
    response = await client.post(
        "/api/auth/register",
        json={"email": "ada@example.com", "password": password, "display_name": "Ada"},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "too easy to guess" in detail and "common" in detail
    assert password not in response.text


async def test_404_409_and_422_bodies_never_echo_what_was_sent(any_client):
    learner = await register(any_client)
    checks = [
        ("GET", f"/api/sessions/{SENT}", None, 404),
        ("POST", f"/api/sessions/{SENT}/start", None, 404),
        ("GET", f"/api/challenges/{SENT}", None, 404),
        ("POST", "/api/sessions", {"challenge_id": SENT}, 404),
    ]
    session = (await new_session(any_client, learner))["session_id"]
    checks += [
        ("POST", f"/api/sessions/{session}/continue", {"step_id": SENT}, 409),
        ("POST", f"/api/sessions/{session}/answer", {"step_id": SENT, "answer": 0}, 409),
        ("POST", f"/api/sessions/{session}/hint", {"step_id": SENT}, 409),
        ("POST", f"/api/sessions/{session}/answer", {"step_id": "welcome", "answer": SENT}, None),
    ]
    for method, path, body, status in checks:
        response = await any_client.request(method, path, json=body, headers=learner.headers)
        assert response.status_code in ((status,) if status else (409, 422)), response.text
        assert SENT not in response.text, (path, response.text)
        assert response.json()["detail"]


async def test_an_unechoed_message_is_kept(client):
    learner = await register(client)
    session = (await new_session(client, learner))["session_id"]
    response = await client.post(
        f"/api/sessions/{session}/hint", json={"step_id": "welcome"}, headers=learner.headers
    )
    assert response.status_code == 409
    assert response.json()["detail"] not in ("not found", "invalid input")


async def _metrics_client(**settings) -> tuple[httpx.AsyncClient, object]:
    services = await make_services(**settings)
    app = create_app(services)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return http, services


async def test_metrics_in_production_need_the_token():
    token = "metrics-token-0123456789abcdef"
    http, services = await _metrics_client(env="production", metrics_token=token)
    try:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-it"})
        assert wrong.status_code == 401 and token not in wrong.text
        basic = await http.get("/metrics", headers={"Authorization": f"Basic {token}"})
        assert basic.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200
        assert "curiouscore_http_requests_total" in right.text
    finally:
        await http.aclose()
        await services.close()


async def test_metrics_in_production_without_a_token_are_not_served():
    http, services = await _metrics_client(env="production")
    try:
        assert (await http.get("/metrics")).status_code == 404
    finally:
        await http.aclose()
        await services.close()


async def test_metrics_outside_production_stay_open_without_a_token(client):
    assert (await client.get("/metrics")).status_code == 200


def test_scrub_removes_emails_and_sha256_digests():
    digest = hashlib.sha256(b"refresh").hexdigest()
    line = scrub(f"user ada.l+x@example.co.uk refreshed ('{digest}', 3)")
    assert "example" not in line and digest not in line and "ada" not in line


async def test_at_debug_level_no_email_or_token_digest_reaches_the_log(tmp_path, capsys):
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}")
    services = await make_services(store, log_level="DEBUG")
    root = logging.getLogger()
    level = root.level
    try:
        app = create_app(services)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            learner = await register(http, "lovelace@example.com")
            refreshed = await http.post(
                "/api/auth/refresh", json={"refresh_token": learner.refresh_token}
            )
            assert refreshed.status_code == 200
            await http.post(
                "/api/auth/login",
                json={"email": "lovelace@example.com", "password": PASSWORD},
            )
        logged = capsys.readouterr().err
        assert logged  # DEBUG was on and the requests were logged
        assert "lovelace" not in logged
        for token in (learner.refresh_token, refreshed.json()["refresh_token"]):
            assert token not in logged
            assert hashlib.sha256(token.encode()).hexdigest() not in logged
    finally:
        configure_logging(logging.getLevelName(level))
        await services.close()
