"""Playing sessions over HTTP: every step type, HTML rendering, authorization, 404/409/422,
idempotency, the event log."""

from __future__ import annotations

import pytest

from tests.api.conftest import XSS, new_session, register


async def play(client, learner, session_id, path, body, key=None):
    headers = dict(learner.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await client.post(f"/api/sessions/{session_id}/{path}", json=body, headers=headers)


async def test_a_whole_session_with_every_step_type(any_client):
    ada = await register(any_client)
    created = await any_client.post(
        "/api/sessions", json={"challenge_id": "quiz"}, headers=ada.headers
    )
    assert created.status_code == 201
    view = created.json()
    assert (view["status"], view["ui_mode"], view["step"]) == ("created", "NOT_STARTED", None)
    sid = view["session_id"]

    view = (await play(any_client, ada, sid, "start", None)).json()
    assert view["ui_mode"] == "CONTINUE_GATE"
    assert view["transcript"][0]["kind"] == "narration"

    view = (await play(any_client, ada, sid, "continue", {"step_id": "welcome"})).json()
    assert view["ui_mode"] == "MCQ_SINGLE"
    assert view["step"]["choices_html"][0] == "<code>right</code>"

    hinted = await play(any_client, ada, sid, "hint", {"step_id": "pick"})
    assert hinted.status_code == 200
    assert hinted.json()["transcript"][-1]["kind"] == "hint"
    assert hinted.json()["transcript"][-1]["html"] == "<p>Think about <code>right</code>.</p>\n"
    assert hinted.json()["step"]["hints_left"] == view["step"]["hints_left"] - 1

    view = (await play(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 0})).json()
    assert view["ui_mode"] == "MCQ_MULTI"
    view = (
        await play(any_client, ada, sid, "answer", {"step_id": "several", "answer": [0, 2]})
    ).json()
    assert view["ui_mode"] == "TRUE_FALSE"
    view = (await play(any_client, ada, sid, "answer", {"step_id": "truth", "answer": True})).json()
    assert view["ui_mode"] == "CHAT"
    view = (
        await play(
            any_client,
            ada,
            sid,
            "answer",
            {"step_id": "explain", "answer": "Functions are reused and named, so reuse."},
        )
    ).json()
    assert view["status"] == "completed" and view["ui_mode"] == "COMPLETED"
    assert view["result"]["passed"] is True
    assert view["result"]["xp_granted"] > 0
    feedback = [e for e in view["transcript"] if e["kind"] == "feedback"][-1]
    assert {item["id"] for item in feedback["items"]} == {"reuse", "names"}
    assert all("feedback_html" in item for item in feedback["items"])

    me = (await any_client.get("/api/me", headers=ada.headers)).json()
    assert me["xp"] == view["result"]["xp_granted"]
    assert me["completed"][0]["challenge_id"] == "quiz"
    listed = (await any_client.get("/api/sessions", headers=ada.headers)).json()
    assert [s["session_id"] for s in listed] == [sid]
    assert listed[0]["status"] == "completed"
    board = (await any_client.get("/api/leaderboard")).json()
    assert board[0]["display_name"] == "Ada" and board[0]["rank"] == 1


async def test_markdown_is_rendered_and_sanitised_on_the_server(client):
    ada = await register(client)
    view = await new_session(client, ada)
    body_html = view["step"]["body_html"]
    assert "<strong>learner</strong>" in body_html
    assert '<span class="hl-k">def</span>' in body_html  # highlighted code
    assert "<img" not in body_html and "&lt;img src=x onerror=alert(1)&gt;" in body_html
    assert "javascript:" not in body_html.replace("[x](javascript:alert(1))", "")
    assert "href=" not in body_html
    narration = view["transcript"][0]["html"]
    assert "<script>" not in narration and "&lt;script&gt;" in narration


async def test_a_learners_answer_shows_as_text_never_as_markup(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    for step_id, answer in [("welcome", None), ("pick", 0), ("several", [0, 2]), ("truth", True)]:
        path = "continue" if answer is None else "answer"
        body = {"step_id": step_id} if answer is None else {"step_id": step_id, "answer": answer}
        assert (await play(client, ada, sid, path, body)).status_code == 200
    view = (
        await play(client, ada, sid, "answer", {"step_id": "explain", "answer": f"{XSS} *reuse*"})
    ).json()
    mine = next(e for e in view["transcript"] if e["kind"] == "answer" and XSS in e["text"])
    assert mine["html"] == "<p>&lt;img src=x onerror=alert(1)&gt; *reuse*</p>"


async def test_another_learners_session_is_404_everywhere(any_client):
    ada = await register(any_client, "ada@example.com", "Ada")
    bob = await register(any_client, "bob@example.com", "Bob")
    sid = (await new_session(any_client, ada))["session_id"]
    attempts = [
        ("GET", f"/api/sessions/{sid}", None),
        ("GET", f"/api/sessions/{sid}/events", None),
        ("POST", f"/api/sessions/{sid}/start", None),
        ("POST", f"/api/sessions/{sid}/continue", {"step_id": "welcome"}),
        ("POST", f"/api/sessions/{sid}/answer", {"step_id": "welcome", "answer": 0}),
        ("POST", f"/api/sessions/{sid}/hint", {"step_id": "welcome"}),
        ("POST", f"/api/sessions/{sid}/abandon", None),
    ]
    for method, path, body in attempts:
        response = await any_client.request(method, path, json=body, headers=bob.headers)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "there is no such session"  # the id is not echoed
    assert (await any_client.get("/api/sessions", headers=bob.headers)).json() == []
    # ... and nothing Bob did touched Ada's session.
    events = (await any_client.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
    assert [e["type"] for e in events][-1] != "SessionAbandoned"


async def test_an_admin_may_read_any_session(client, services):
    from tests.api.conftest import admin

    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    root = await admin(client, services)
    assert (await client.get(f"/api/sessions/{sid}", headers=root.headers)).status_code == 200
    events = await client.get(f"/api/sessions/{sid}/events", headers=root.headers)
    assert events.status_code == 200


async def test_unknown_session_and_challenge_are_404(client):
    ada = await register(client)
    response = await client.get("/api/sessions/no-such-session", headers=ada.headers)
    assert response.status_code == 404
    response = await client.post(
        "/api/sessions", json={"challenge_id": "no-such-challenge"}, headers=ada.headers
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "there is no such challenge"  # not echoed


async def test_answer_for_a_step_that_is_not_current_is_409(any_client):
    ada = await register(any_client)
    sid = (await new_session(any_client, ada))["session_id"]
    await play(any_client, ada, sid, "continue", {"step_id": "welcome"})
    ahead = await play(any_client, ada, sid, "answer", {"step_id": "truth", "answer": True})
    assert ahead.status_code == 409
    behind = await play(any_client, ada, sid, "continue", {"step_id": "welcome"})
    assert behind.status_code == 409
    view = (await any_client.get(f"/api/sessions/{sid}", headers=ada.headers)).json()
    assert view["step"]["id"] == "pick" and view["step"]["attempts_used"] == 0


async def test_wrong_actions_are_409(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    assert (await play(client, ada, sid, "start", None)).status_code == 409  # started already
    gate_answer = await play(client, ada, sid, "answer", {"step_id": "welcome", "answer": 0})
    assert gate_answer.status_code == 409
    await play(client, ada, sid, "continue", {"step_id": "welcome"})
    not_a_gate = await play(client, ada, sid, "continue", {"step_id": "pick"})
    assert not_a_gate.status_code == 409
    statuses = [(await play(client, ada, sid, "hint", {"step_id": "pick"})).status_code]
    while statuses[-1] == 200 and len(statuses) < 10:
        statuses.append((await play(client, ada, sid, "hint", {"step_id": "pick"})).status_code)
    assert statuses[-1] == 409  # no hints left
    abandoned = await play(client, ada, sid, "abandon", None)
    assert abandoned.status_code == 200 and abandoned.json()["ui_mode"] == "ABANDONED"
    after = await play(client, ada, sid, "answer", {"step_id": "pick", "answer": 0})
    assert after.status_code == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"step_id": "pick"}, 422),  # no answer
        ({"answer": 0}, 422),  # no step
        ({"step_id": "pick", "answer": {"a": 1}}, 422),  # not a valid shape at all
        ({"step_id": "pick", "answer": 7}, 422),  # no such choice
        ({"step_id": "pick", "answer": True}, 422),  # a boolean is not an index
        ({"step_id": "pick", "answer": "0"}, 422),  # a string is not an index
        ({"step_id": "", "answer": 0}, 422),
    ],
)
async def test_malformed_answers_are_422(client, body, status):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    await play(client, ada, sid, "continue", {"step_id": "welcome"})
    response = await play(client, ada, sid, "answer", body)
    assert response.status_code == status
    assert "detail" in response.json()


async def test_malformed_json_is_422_and_never_echoes_the_input(client):
    ada = await register(client)
    response = await client.post(
        "/api/sessions",
        content=b'{"challenge_id": ',
        headers={**ada.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    response = await client.post(
        "/api/auth/register",
        json={"email": "x@example.com", "password": ["secret-in-a-list"], "display_name": "X"},
    )
    assert response.status_code == 422
    assert "secret-in-a-list" not in response.text


async def test_a_chat_answer_over_5000_characters_is_422(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    for step_id, answer in [("welcome", None), ("pick", 0), ("several", [0, 2]), ("truth", True)]:
        path = "continue" if answer is None else "answer"
        body = {"step_id": step_id} if answer is None else {"step_id": step_id, "answer": answer}
        await play(client, ada, sid, path, body)
    response = await play(client, ada, sid, "answer", {"step_id": "explain", "answer": "x" * 5001})
    assert response.status_code == 422
    assert "5000" in response.json()["detail"]


async def test_idempotency_key_makes_a_retry_append_nothing(any_client):
    ada = await register(any_client)
    sid = (await new_session(any_client, ada))["session_id"]
    await play(any_client, ada, sid, "continue", {"step_id": "welcome"}, key="k-continue")
    first = await play(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 1}, key="k-1")
    events = (await any_client.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
    again = await play(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 1}, key="k-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    after = (await any_client.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
    assert after == events
    # The same answer without a key is a second attempt.
    other = await play(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 1})
    assert other.json()["version"] > first.json()["version"]
    # A repeated continue with its key is harmless too (no 409 for the gate that moved on).
    repeat = await play(any_client, ada, sid, "continue", {"step_id": "welcome"}, key="k-continue")
    assert repeat.status_code == 200


async def test_an_invalid_idempotency_key_is_422(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    response = await play(client, ada, sid, "continue", {"step_id": "welcome"}, key="k" * 300)
    assert response.status_code == 422


async def test_the_event_log_has_contiguous_versions(any_client):
    ada = await register(any_client)
    sid = (await new_session(any_client, ada))["session_id"]
    await play(any_client, ada, sid, "continue", {"step_id": "welcome"})
    await play(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 2})
    events = (await any_client.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "SessionCreated"
    assert set(events[0]) == {"version", "type", "data", "recorded_at"}


async def test_learners_cannot_set_scores_or_xp_through_the_api(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    await play(client, ada, sid, "continue", {"step_id": "welcome"})
    response = await client.post(
        f"/api/sessions/{sid}/answer",
        json={"step_id": "pick", "answer": 1, "score": 10, "passed": True, "points": 99},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert response.json()["progress"]["score"] == 0
    view = (await client.get(f"/api/sessions/{sid}", headers=ada.headers)).json()
    assert view["progress"]["score"] == 0
    me = (await client.get("/api/me", headers=ada.headers)).json()
    assert me["xp"] == 0 and me["role"] == "learner"
    # No endpoint accepts a change to these at all.
    for method, path in [("PUT", "/api/me"), ("PATCH", "/api/me"), ("POST", "/api/me")]:
        changed = await client.request(
            method, path, json={"xp": 1, "role": "admin"}, headers=ada.headers
        )
        assert changed.status_code == 405
