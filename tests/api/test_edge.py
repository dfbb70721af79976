"""What every response gets at the edge, from one middleware layer: the security headers (each
once, never overriding what a response set itself), one request id, one access log line with the
route template, and the HTTP metrics per route and status, counted on every request."""

from __future__ import annotations

import json
import logging
import re

import httpx
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from api.app import create_app
from api.logs import JsonFormatter
from core.bootstrap import Services
from tests.api.conftest import client_for, new_session, register

HARDENING = (
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
)


def names(response: httpx.Response) -> list[str]:
    return [name.decode().lower() for name, _ in response.headers.raw]


async def test_every_hardening_header_and_the_request_id_come_once(client):
    for path in ("/api/challenges", "/health", "/", "/api/sessions/none", "/no/such/page"):
        response = await client.get(path)
        sent = names(response)
        for header in (*HARDENING, "x-request-id"):
            assert sent.count(header) == 1, (path, header)
        if path.startswith("/api/"):
            assert response.headers.get_list("Cache-Control") == ["no-store"]
        assert "strict-transport-security" not in sent  # plain http


async def test_https_responses_get_hsts(services: Services):
    app = create_app(services, services.settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        response = await http.get("/api/challenges")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_a_header_the_response_sets_itself_is_kept(services: Services):
    async def framed(scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(
            "framed", headers={"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "max-age=5"}
        )
        await response(scope, receive, send)

    app = create_app(services, services.settings, mounts=[("/api/framed", framed)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/api/framed/x")
    assert response.text == "framed"
    assert response.headers.get_list("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.get_list("Cache-Control") == ["max-age=5"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_last_resort_500_also_gets_the_security_headers(services: Services):
    async def broken(limit: int = 10) -> None:
        raise RuntimeError("boom")

    services.learners.leaderboard = broken  # type: ignore[method-assign,assignment]
    async with client_for(services) as client:
        response = await client.get("/api/leaderboard", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500"
    for header in HARDENING:
        assert header in response.headers


async def test_one_access_line_per_request_with_the_route_template(client, caplog):
    ada = await register(client)
    session_id = (await new_session(client, ada))["session_id"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="api.request"):
        await client.get(
            f"/api/sessions/{session_id}", headers={**ada.headers, "X-Request-ID": "line-1"}
        )
    [record] = [r for r in caplog.records if r.name == "api.request"]
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == f"GET /api/sessions/{session_id} 200"
    assert line["route"] == "/api/sessions/{session_id}"
    assert (line["request_id"], line["status"], line["method"]) == ("line-1", 200, "GET")
    assert line["duration_ms"] >= 0


async def test_no_access_line_when_info_is_off(client, caplog):
    with caplog.at_level(logging.WARNING, logger="api.request"):
        await client.get("/health")
    assert not [r for r in caplog.records if r.name == "api.request"]


def counter(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}\{{{re.escape(labels)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_every_request_per_route_and_status(client):
    ada = await register(client)
    for _ in range(3):
        await client.get("/api/challenges", headers=ada.headers)
    for _ in range(2):
        await client.get("/api/sessions/nope", headers=ada.headers)
    text = (await client.get("/metrics")).text
    ok = 'method="GET",route="/api/challenges",status="200"'
    missing = 'method="GET",route="/api/sessions/{session_id}",status="404"'
    assert counter(text, "curiouscore_http_requests_total", ok) == 3.0
    assert counter(text, "curiouscore_http_errors_total", ok) == 0.0
    assert counter(text, "curiouscore_http_requests_total", missing) == 2.0
    assert counter(text, "curiouscore_http_errors_total", missing) == 2.0
    latency = 'le="+Inf",method="GET",route="/api/challenges"'
    assert counter(text, "curiouscore_http_request_duration_seconds_bucket", latency) == 3.0
