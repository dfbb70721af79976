"""Code steps over HTTP: the view, Run tests (no attempt, 429 when over the limit), Submit, and 503
naming the fix where the sandbox cannot run. Real bubblewrap runs behind the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.bootstrap import build_services
from core.content import ChallengeFile
from core.sandbox.bwrap import BwrapRunner
from core.service.clock import SystemClock
from core.store import InMemoryStore
from tests.api.conftest import FAST_HASHER, api_settings, client_for, register

CHALLENGE = {
    "id": "codey",
    "title": "Code",
    "steps": [
        {
            "id": "square",
            "type": "code",
            "language": "python",
            "title": "Square",
            "prompt": "Write `square(x)`.",
            "points": 20,
            "starter": "def square(x):\n    pass",
            "solution": "def square(x):\n    return x * x",
            "tests": [
                {
                    "id": "three",
                    "points": 10,
                    "code": "assert square(3) == 9, 'square(3) should be 9'",
                },
                {"id": "secret", "points": 10, "code": "assert square(-2) == 4", "hidden": True},
            ],
        }
    ],
}


async def _client(runner) -> AsyncIterator[httpx.AsyncClient]:
    services = await build_services(
        api_settings(code_trial_runs_per_minute=2),
        store=InMemoryStore(),
        clock=SystemClock(),
        password_hasher=FAST_HASHER,
        code_runner=runner,
    )
    await services.catalog.publish(ChallengeFile.model_validate(CHALLENGE), at=services.clock.now())
    async with client_for(services) as http:
        yield http
    await services.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(BwrapRunner()):
        yield client


async def _start(http: httpx.AsyncClient):
    learner = await register(http)
    view = (
        await http.post("/api/sessions", json={"challenge_id": "codey"}, headers=learner.headers)
    ).json()
    view = (
        await http.post(f"/api/sessions/{view['session_id']}/start", headers=learner.headers)
    ).json()
    return learner, view


async def test_run_then_submit_a_code_step(http: httpx.AsyncClient) -> None:
    learner, view = await _start(http)
    assert view["ui_mode"] == "CODE"
    tests = view["step"]["code"]["tests"]
    assert tests == [
        {
            "id": "three",
            "points": 10,
            "hidden": False,
            "code": "assert square(3) == 9, 'square(3) should be 9'",
        },
        {"id": "secret", "points": 10, "hidden": True, "code": None},
    ]
    url = f"/api/sessions/{view['session_id']}"
    run = await http.post(
        f"{url}/run",
        json={"step_id": "square", "code": "def square(x):\n    print('hi')\n    return x + x"},
        headers=learner.headers,
    )
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["sandbox"] == "bwrap" and [t["id"] for t in body["tests"]] == ["three"]
    assert body["tests"][0] == {
        "id": "three",
        "passed": False,
        "message": "square(3) should be 9",
        "output": "hi\n",
    }
    again = (await http.get(url, headers=learner.headers)).json()
    assert again["step"]["attempts_left"] == 5 and again["version"] == view["version"]

    answer = await http.post(
        f"{url}/answer",
        json={"step_id": "square", "answer": "def square(x):\n    return x * x"},
        headers={**learner.headers, "Idempotency-Key": "a1"},
    )
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["ui_mode"] == "COMPLETED" and done["result"]["score"] == 20
    feedback = next(e for e in done["transcript"] if e["kind"] == "feedback")
    assert [i["points"] for i in feedback["items"]] == [10, 10]
    events = (await http.get(f"{url}/events", headers=learner.headers)).json()
    graded = next(e for e in events if e["type"] == "AnswerGraded")
    assert (
        graded["data"]["code_run"]["sandbox"] == "bwrap"
        and graded["data"]["code_run"]["duration_ms"] > 0
    )
    assert "square(-2)" not in str(events)  # hidden test code never leaves the server


async def test_trial_runs_are_rate_limited_and_validated(http: httpx.AsyncClient) -> None:
    learner, view = await _start(http)
    url = f"/api/sessions/{view['session_id']}/run"
    for _ in range(2):
        assert (
            await http.post(
                url, json={"step_id": "square", "code": "x = 1"}, headers=learner.headers
            )
        ).status_code == 200
    limited = await http.post(
        url, json={"step_id": "square", "code": "x = 1"}, headers=learner.headers
    )
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    wrong_step = await http.post(
        url, json={"step_id": "other", "code": "x = 1"}, headers=learner.headers
    )
    assert wrong_step.status_code == 409
    empty = await http.post(url, json={"step_id": "square", "code": ""}, headers=learner.headers)
    assert empty.status_code == 422


async def test_without_a_sandbox_submitting_is_a_503_naming_the_fix() -> None:
    async for http in _client(BwrapRunner(bwrap="/nonexistent/bwrap")):
        learner, view = await _start(http)
        response = await http.post(
            f"/api/sessions/{view['session_id']}/answer",
            json={"step_id": "square", "answer": "x = 1"},
            headers=learner.headers,
        )
        assert response.status_code == 503
        assert "apt-get install bubblewrap" in response.json()["detail"]
        after = (
            await http.get(f"/api/sessions/{view['session_id']}", headers=learner.headers)
        ).json()
        assert after["step"]["attempts_left"] == 5
