"""Text the database cannot hold (NUL bytes, lone surrogates) is refused at the edge: 422 for bodies,
queries and headers, 404 for paths, never a 500 — on every store, with nothing alarming in the log."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from api.text_guard import (
    NUL,
    SUBMITTED_JSON,
    SURROGATE,
    BodyTooLarge,
    TextGuardMiddleware,
    _body_problems,
    _plain_json,
    _read,
    json_problems,
    text_problem,
)
from tests.api.conftest import PASSWORD, new_session, register

NUL_EMAIL = "a\u0000b@x.test"


@pytest.fixture
def quiet_log(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    yield caplog
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    text = caplog.text
    for leak in ("Traceback", "INSERT", "SELECT", "parameters", "a\\x00b", "a\x00b"):
        assert leak not in text


def _problem(response: httpx.Response, loc: list, kind: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert {"loc": loc, "msg": detail[0]["msg"], "type": kind} in detail
    assert "\\u0000" not in response.text and "\\ud800" not in response.text


async def test_a_nul_in_login_and_register_emails_is_a_422(any_client, quiet_log):
    response = await any_client.post(
        "/api/auth/login", json={"email": NUL_EMAIL, "password": PASSWORD}
    )
    _problem(response, ["body", "email"], "string_nul")
    response = await any_client.post(
        "/api/auth/register",
        json={"email": NUL_EMAIL, "password": PASSWORD, "display_name": "Ada"},
    )
    _problem(response, ["body", "email"], "string_nul")
    response = await any_client.post(
        "/api/auth/register",
        json={"email": "ok@x.test", "password": PASSWORD, "display_name": "A\u0000da"},
    )
    _problem(response, ["body", "display_name"], "string_nul")


async def test_a_nul_in_the_login_form_is_a_422(any_client, quiet_log):
    response = await any_client.post(
        "/api/auth/login", data={"username": NUL_EMAIL, "password": PASSWORD}
    )
    _problem(response, ["body", "username"], "string_nul")


async def test_a_nul_in_a_json_key_is_a_422(any_client, quiet_log):
    response = await any_client.post(
        "/api/auth/login",
        content=b'{"email": "a@x.test", "pass\\u0000word": "x"}',
        headers={"Content-Type": "application/json"},
    )
    _problem(response, ["body"], "string_nul")


async def test_a_nul_in_a_path_is_a_404(any_client, quiet_log):
    assert (await any_client.get("/api/challenges/a%00b")).status_code == 404
    learner = await register(any_client)
    for path in ("/api/sessions/%00", "/api/sessions/a%00b/start"):
        method = "POST" if path.endswith("start") else "GET"
        response = await any_client.request(method, path, headers=learner.headers)
        assert response.status_code == 404, response.text
        assert "\\u0000" not in response.text


async def test_a_nul_in_a_query_or_a_header_is_a_422(any_client, quiet_log):
    response = await any_client.get("/api/leaderboard?limit=%00")
    _problem(response, ["query", "limit"], "string_nul")
    learner = await register(any_client)
    view = await new_session(any_client, learner)
    response = await any_client.post(
        f"/api/sessions/{view['session_id']}/continue",
        json={"step_id": "welcome"},
        headers={**learner.headers, "Idempotency-Key": "key\x00"},
    )
    _problem(response, ["header", "idempotency-key"], "string_nul")
    response = await any_client.get("/api/me", headers={"Authorization": "Bearer a\x00b"})
    _problem(response, ["header", "authorization"], "string_nul")


async def _to_the_chat_step(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    learner = await register(http)
    session = (await new_session(http, learner))["session_id"]
    moves = [
        ("continue", {"step_id": "welcome"}),
        ("answer", {"step_id": "pick", "answer": 0}),
        ("answer", {"step_id": "several", "answer": [0, 2]}),
        ("answer", {"step_id": "truth", "answer": True}),
    ]
    for action, body in moves:
        response = await http.post(
            f"/api/sessions/{session}/{action}", json=body, headers=learner.headers
        )
        assert response.status_code == 200, response.text
    return session, learner.headers


async def test_a_lone_surrogate_in_a_chat_answer_is_a_422_and_changes_nothing(
    any_client, any_services, quiet_log
):
    session, headers = await _to_the_chat_step(any_client)
    before = len(await any_services.store.read_stream(session))
    for raw in (b"\\ud800 reuse", b"reuse \\udfff", b"\\u0000 reuse"):
        response = await any_client.post(
            f"/api/sessions/{session}/answer",
            content=b'{"step_id": "explain", "answer": "' + raw + b'"}',
            headers={**headers, "Content-Type": "application/json"},
        )
        kind = "string_nul" if b"0000" in raw else "string_surrogate"
        _problem(response, ["body", "answer"], kind)
    assert len(await any_services.store.read_stream(session)) == before
    # A proper surrogate pair (an emoji) is ordinary text.
    response = await any_client.post(
        f"/api/sessions/{session}/answer",
        content=b'{"step_id": "explain", "answer": "reuse named code \\ud83d\\ude00"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert "\U0001f600" in str(response.json()["transcript"])


def test_text_is_judged_the_same_whether_ascii_or_not():
    assert text_problem("plain ascii") is None
    assert text_problem("naïve café ✓") is None
    assert text_problem("nul\x00") == NUL
    assert text_problem("naïve\x00") == NUL
    assert text_problem("lone \ud800") == SURROGATE


# Bodies every JSON spelling of NUL and surrogates (escaped, raw, in keys, behind an escaped
# backslash, in other encodings) and plain ones: the guard's verdict without the walk must be the
# walk's.
BODIES = [
    b'{"step_id": "welcome", "answer": 0}',
    b'{"a": [1, 2.5, null, true, {"b": "c\\n\\t\\"\\/"}]}',
    b'{"a": "\\u0000"}',
    b'{"\\u0000": 1}',
    b'{"a": "\\ud800"}',
    b'{"a": "\\uD83D\\uDE00"}',
    b'{"a": "\\u00e9"}',
    b'{"a": "\\\\u0000"}',  # an escaped backslash, then "u0000": plain text
    b'{"a": "\x00"}',  # a raw NUL: not JSON
    b'"\x00a\x00"',  # zero bytes: json reads it as UTF-16
    '{"a": "naïve ✓"}'.encode(),
    '{"a": "\ud800"}'.encode("utf-8", "surrogatepass"),  # a raw lone surrogate, passed through
    '{"a": "x"}'.encode("utf-16"),
    '\ufeff{"a": "x"}'.encode(),  # a UTF-8 BOM
    b"[]",
    b"{not json",
]


@pytest.mark.parametrize("body", BODIES)
def test_a_json_body_is_judged_as_walking_it_judges_it(body: bytes) -> None:
    state: dict = {}
    problems = _body_problems("application/json", body, state)
    try:
        document = json.loads(body)
    except ValueError:
        assert problems == [] and SUBMITTED_JSON not in state
        return
    assert state[SUBMITTED_JSON] == document
    assert problems == json_problems(document)
    if _plain_json(body):
        assert problems == []


def test_only_plain_ascii_bodies_skip_the_walk() -> None:
    assert _plain_json(b'{"step_id": "welcome"}')
    assert not _plain_json(b'{"a": "\\u0041"}')
    assert not _plain_json('{"a": "é"}'.encode())
    assert not _plain_json(b'"\x00a\x00"')


async def _limited_read(chunks: list[bytes], limit: int) -> bytes | str:
    """The body as the guard's limited receive, read to the end, gives it (or "413")."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    limited = TextGuardMiddleware(None, limit)._limited(receive)  # type: ignore[arg-type]
    read = b""
    try:
        while True:
            message = await limited()
            read += message.get("body", b"")
            if not message.get("more_body"):
                return read
    except BodyTooLarge:
        return "413"


async def _own_read(chunks: list[bytes], limit: int) -> bytes | str:
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict:
        return messages.pop(0)

    try:
        return await _read(receive, limit)
    except BodyTooLarge:
        return "413"


@pytest.mark.parametrize(
    "chunks",
    [
        [b""],
        [b"abc"],
        [b"x" * 10],
        [b"x" * 11],
        [b"abc", b"def"],
        [b"x" * 6, b"x" * 5],
        [b"x" * 11, b""],
    ],
)
async def test_the_body_is_read_and_limited_as_the_limited_receive_reads_it(chunks):
    assert await _own_read(chunks, 10) == await _limited_read(chunks, 10)
