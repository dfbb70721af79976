"""The public catalogue, the profile, chat identity links, the leaderboard and admin analytics."""

from __future__ import annotations

import json

from core.store.usage import UsageRecord
from tests.api.conftest import admin, new_session, register

SECRETS = ("correct", "rubric", "reference_answer", "SECRET-REFERENCE", "examples", "concepts")


async def test_the_catalogue_lists_challenges_without_answers(client):
    response = await client.get("/api/challenges")
    assert response.status_code == 200
    [quiz] = response.json()
    assert quiz["id"] == "quiz"
    assert quiz["step_count"] == 5
    assert quiz["step_kinds"] == ["gate", "mcq", "multi", "true_false", "chat"]
    assert quiz["max_score"] == 50
    assert quiz["summary_html"] == "<p>Five kinds of step, <em>one</em> quiz.</p>\n"
    for secret in SECRETS:
        assert secret not in response.text


async def test_one_challenge_has_an_outline_but_no_answers(client):
    response = await client.get("/api/challenges/quiz")
    assert response.status_code == 200
    detail = response.json()
    assert [s["kind"] for s in detail["steps"]] == ["gate", "mcq", "multi", "true_false", "chat"]
    assert set(detail["steps"][1]) == {"index", "id", "kind", "title", "points"}
    text = json.dumps(detail)
    for secret in (*SECRETS, "answer", "hints", "explanation", "choices"):
        assert secret not in text
    assert (await client.get("/api/challenges/nope")).status_code == 404


async def test_the_session_view_never_carries_answer_keys(client):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    headers = ada.headers
    await client.post(f"/api/sessions/{sid}/continue", json={"step_id": "welcome"}, headers=headers)
    view = await client.get(f"/api/sessions/{sid}", headers=headers)
    assert view.json()["step"]["id"] == "pick"
    for secret in ("correct", "rubric", "reference_answer", "SECRET-REFERENCE", "explanation"):
        assert secret not in view.text


async def test_me_shows_profile_and_link_codes_link_chat_identities(client, services):
    ada = await register(client)
    me = (await client.get("/api/me", headers=ada.headers)).json()
    assert set(me) >= {"id", "email", "display_name", "role", "xp", "level", "completed"}
    assert me["identities"] == [] and (me["level_start_xp"], me["next_level_xp"]) == (0, 500)

    # A Slack user plays before linking: provisioned on first contact.
    chat_learner = await services.accounts.identity_for("slack", "T1:U42", "ada-on-slack")
    assert chat_learner.learner_id != me["id"]

    created = await client.post("/api/me/link-code", headers=ada.headers)
    assert created.status_code == 201
    code = created.json()["code"]
    assert len(code) == 9 and code[4] == "-"
    linked = await services.accounts.link("slack", "T1:U42", code.lower())
    assert linked.learner_id == me["id"]
    # From now on the chat user is the web learner (XP and history shared).
    again = await services.accounts.identity_for("slack", "T1:U42", "ada-on-slack")
    assert again.learner_id == me["id"]
    me = (await client.get("/api/me", headers=ada.headers)).json()
    assert [(i["platform"], i["external_id"]) for i in me["identities"]] == [("slack", "T1:U42")]

    fetched = await client.get("/api/me/link-code", headers=ada.headers)
    assert fetched.status_code == 200 and fetched.json()["code"] != code


async def test_the_leaderboard_is_public_and_bounded(client):
    response = await client.get("/api/leaderboard", params={"limit": 5})
    assert response.status_code == 200 and response.json() == []
    assert (await client.get("/api/leaderboard", params={"limit": 0})).status_code == 422
    assert (await client.get("/api/leaderboard", params={"limit": 101})).status_code == 422


async def test_analytics_are_for_admins_only(client, services):
    ada = await register(client)
    response = await client.get("/api/admin/analytics", headers=ada.headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "analytics are for admins only"}


async def test_analytics_project_the_event_log(client, services):
    ada = await register(client)
    sid = (await new_session(client, ada))["session_id"]
    h = ada.headers
    await client.post(f"/api/sessions/{sid}/continue", json={"step_id": "welcome"}, headers=h)
    for _ in range(2):  # fail the mcq twice: it closes as failed
        await client.post(
            f"/api/sessions/{sid}/answer", json={"step_id": "pick", "answer": 1}, headers=h
        )
    await new_session(client, ada, start=False)
    root = await admin(client, services)
    response = await client.get("/api/admin/analytics", headers=root.headers)
    assert response.status_code == 200
    report = response.json()
    assert report["sessions"] == 2 and report["learners"] == 1
    assert report["completions"] == 0 and report["pass_rate"] is None
    [quiz] = report["challenges"]
    assert (quiz["challenge_id"], quiz["sessions"], quiz["completed"]) == ("quiz", 2, 0)
    worst = report["most_failed_steps"][0]
    assert (worst["step_id"], worst["step_title"], worst["failures"], worst["closed_failed"]) == (
        "pick",
        "Pick",
        2,
        1,
    )
    assert report["daily_active_learners"][0]["learners"] == 1
    assert report["llm_calls"] == 0  # offline narration is not an LLM call (nor in the ledger)
    assert report["llm_cost_per_day"][0]["cost_usd"] == 0


async def test_analytics_show_request_and_llm_system_metrics(client, services):
    ada = await register(client)
    await new_session(client, ada)
    missing = await client.get("/api/sessions/no-such-session", headers=ada.headers)
    assert missing.status_code == 404
    for latency, ok in ((120, True), (80, True), (900, False)):
        await services.store.record_usage(
            UsageRecord(
                "ada", None, "2026-01-05", "LEM_EVALUATE", "openai", "m", 10, 5, 0.01,
                latency, ok, not ok, "2026-01-05T10:00:00+00:00",
            )
        )  # fmt: skip
    root = await admin(client, services)
    response = await client.get("/api/admin/analytics", headers=root.headers)
    assert response.status_code == 200
    system = response.json()["system"]
    requests = system["requests"]
    assert requests["requests"] >= 4 and requests["errors"] >= 1
    assert 0 < requests["error_rate"] < 1
    latency = requests["latency"]  # estimated from the histogram buckets
    assert None not in latency.values()
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"]
    assert system["llm"] == {
        "calls": 3,
        "failures": 1,
        "success_rate": 0.6667,
        "latency": {"p50_ms": 120.0, "p95_ms": 900.0, "p99_ms": 900.0},
    }
