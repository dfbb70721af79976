"""Human review of chat grades (issue 14) through the API, on every store: the queue, a review
that changes the learner's score, result and XP, 409 on a second review, 403 for learners, stats,
and replay and ``db verify`` holding with reviews in the log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.bootstrap import Services
from core.content import ChallengeFile
from core.engine.events import decode
from core.service.review_queue import rebuild_review_queue
from core.service.verify import verify_store
from tests.api.conftest import (
    PASSWORD,
    QUIZ,
    Learner,
    client_for,
    new_session,
    register,
)

PLAY = [
    ("continue", {"step_id": "welcome"}),
    ("answer", {"step_id": "pick", "answer": 0}),
    ("answer", {"step_id": "several", "answer": [0, 2]}),
    ("answer", {"step_id": "truth", "answer": True}),
    ("answer", {"step_id": "explain", "answer": "You can reuse named code."}),
]


@pytest.fixture
def service_settings() -> dict[str, Any]:
    """Every chat grade goes to review (REVIEW_SAMPLE_RATE=1.0)."""
    return {"review_sample_rate": 1.0}


async def reviewer(http: httpx.AsyncClient, services: Services) -> Learner:
    await register(http, "rita@example.com", "Rita")
    await services.accounts.promote("rita@example.com", "reviewer")
    response = await http.post(
        "/api/auth/login", json={"email": "rita@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Learner("rita@example.com", body["access_token"], body["refresh_token"])


async def completed_session(
    http: httpx.AsyncClient, learner: Learner, challenge_id: str = "quiz"
) -> str:
    if challenge_id == "quiz":
        sid = (await new_session(http, learner))["session_id"]
    else:
        created = await http.post(
            "/api/sessions", json={"challenge_id": challenge_id}, headers=learner.headers
        )
        sid = created.json()["session_id"]
        started = await http.post(f"/api/sessions/{sid}/start", headers=learner.headers)
        assert started.status_code == 200, started.text
    for action, body in PLAY:
        response = await http.post(
            f"/api/sessions/{sid}/{action}", json=body, headers=learner.headers
        )
        assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    return str(sid)


async def test_a_reviewer_works_the_queue_and_the_learner_sees_the_new_result(
    any_services: Services,
):
    async with client_for(any_services) as http:
        ada = await register(http)
        sid = await completed_session(http, ada)
        me = (await http.get("/api/me", headers=ada.headers)).json()
        assert me["xp"] == 100
        rita = await reviewer(http, any_services)

        # Learners may not see the queue, review or read the stats.
        assert (await http.get("/api/review/queue", headers=ada.headers)).status_code == 403
        queued = await http.get("/api/review/queue?challenge_id=quiz", headers=rita.headers)
        assert queued.status_code == 200, queued.text
        assert "ada@example.com" not in queued.text
        (item,) = queued.json()["items"]
        assert item["session_id"] == sid
        assert (item["step_id"], item["attempt"]) == ("explain", 1)
        assert item["reason"] in ("low_confidence", "sample")
        assert item["answer"] == "You can reuse named code."
        assert item["verdict"]["passed"] is True
        assert item["verdict"]["max_score"] == 20
        assert {i["id"] for i in item["verdict"]["items"]} == {"reuse", "names"}
        assert set(item) == {
            "review_id", "session_id", "challenge_id", "step_id", "attempt", "answer",
            "reason", "verdict", "created_at", "step",
        }  # fmt: skip
        # What the reviewer judges against: the step as graded, with its rubric and reference.
        assert item["step"]["points"] == 20 and item["step"]["prompt"]
        assert [r["id"] for r in item["step"]["rubric"]] == ["reuse", "names"]
        assert all(r["description"] for r in item["step"]["rubric"])
        url = f"/api/review/{item['review_id']}"
        body = {"passed": False, "items": {"reuse": 0, "names": 5}, "comment": "Say *why*."}
        assert (await http.post(url, json=body, headers=ada.headers)).status_code == 403

        applied = await http.post(url, json=body, headers=rita.headers)

        assert applied.status_code == 200, applied.text
        result = applied.json()
        assert (result["passed"], result["score"], result["step_passed"]) == (False, 5.0, False)
        assert result["session_score"] == 35.0
        # 35 of 50 still passes (50%), with XP re-sized from 100 to 70.
        assert (result["result_passed"], result["xp_granted"]) == (True, 70)
        assert (await http.post(url, json=body, headers=rita.headers)).status_code == 409
        empty = await http.get("/api/review/queue", headers=rita.headers)
        assert empty.json()["items"] == []

        view = (await http.get(f"/api/sessions/{sid}", headers=ada.headers)).json()
        review = view["transcript"][-1]
        assert (review["kind"], review["text"], review["score"]) == ("review", "Say *why*.", 5.0)
        assert "<em>" not in review["html"]  # a reviewer's words are text, not Markdown
        me = (await http.get("/api/me", headers=ada.headers)).json()
        assert me["xp"] == 70
        adjustments = await any_services.store.xp_adjustments(me["id"])
        assert [(a.xp_change, a.xp_after) for a in adjustments] == [(-30, 70)]

        replaced = await http.post(
            url,
            json={"passed": False, "items": {"names": 0}, "replace": True},
            headers=rita.headers,
        )
        assert replaced.status_code == 200, replaced.text
        # 30 of 50 still passes: 60 XP; the next one fails the session and takes the XP back.
        assert replaced.json()["xp_granted"] == 60
        events = (await http.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
        reviews = [e for e in events if e["type"] == "GradeReviewed"]
        rita_id = (await http.get("/api/me", headers=rita.headers)).json()["id"]
        assert [e["data"]["actor"] for e in reviews] == [rita_id, rita_id]

        stats = await http.get("/api/review/stats?challenge_id=quiz", headers=rita.headers)
        assert stats.status_code == 200, stats.text
        (step,) = stats.json()["steps"]
        assert (step["step_id"], step["reviewed"], step["labelled_answers"]) == ("explain", 1, 1)
        assert step["agreement"] == 0.0
        assert step["kappa"] == 0.0  # one disagreeing pair: no agreement beyond chance

    replayed = await any_services.game.replay(sid)
    assert replayed == await any_services.game.hydrate(sid)
    assert replayed.result is not None and replayed.result.xp_granted == 60
    report = await verify_store(any_services.store)
    assert report.ok, report.findings


async def test_a_review_that_fails_the_session_removes_the_grant_and_records_it(
    services: Services,
):
    strict = ChallengeFile.model_validate({**QUIZ, "id": "strict", "passing_score": 90})
    await services.catalog.publish(strict, at=services.clock.now())
    async with client_for(services) as http:
        ada = await register(http)
        await completed_session(http, ada, "strict")
        assert (await http.get("/api/me", headers=ada.headers)).json()["xp"] == 100
        rita = await reviewer(http, services)
        (item,) = (await http.get("/api/review/queue", headers=rita.headers)).json()["items"]
        failed = await http.post(
            f"/api/review/{item['review_id']}",
            json={"passed": False, "comment": "Copied from the notes."},
            headers=rita.headers,
        )
        assert failed.status_code == 200, failed.text
        assert (failed.json()["session_score"], failed.json()["result_passed"]) == (30.0, False)
        me = (await http.get("/api/me", headers=ada.headers)).json()
        assert me["xp"] == 0
        adjustments = await services.store.xp_adjustments(me["id"])
        assert [(a.xp_change, a.xp_after, a.reason) for a in adjustments] == [(-100, 0, "review")]
        # The grant is gone, so a later passing session of the challenge earns it again.
        await completed_session(http, ada, "strict")
        assert (await http.get("/api/me", headers=ada.headers)).json()["xp"] == 100
    report = await verify_store(services.store)
    assert report.ok, report.findings


async def test_bad_review_input_is_a_clear_4xx(services: Services):
    async with client_for(services) as http:
        ada = await register(http)
        await completed_session(http, ada)
        rita = await reviewer(http, services)
        (item,) = (await http.get("/api/review/queue", headers=rita.headers)).json()["items"]
        url = f"/api/review/{item['review_id']}"
        unknown_item = await http.post(
            url, json={"passed": True, "items": {"style": 3}}, headers=rita.headers
        )
        assert unknown_item.status_code == 422
        assert "do not exist" in unknown_item.json()["detail"]
        missing = await http.post("/api/review/nope", json={"passed": True}, headers=rita.headers)
        assert missing.status_code == 404
        no_verdict = await http.post(url, json={"comment": "hm"}, headers=rita.headers)
        assert no_verdict.status_code == 422
        too_many = await http.get("/api/review/queue?limit=1000", headers=rita.headers)
        assert too_many.status_code == 422
        no_challenge = await http.get("/api/review/stats", headers=rita.headers)
        assert no_challenge.status_code == 422


async def test_the_review_queue_rebuilt_from_the_events_equals_the_stored_one(
    services: Services,
):
    async with client_for(services) as http:
        ada = await register(http)
        await completed_session(http, ada)
        await completed_session(http, ada)
        rita = await reviewer(http, services)
        items = (await http.get("/api/review/queue", headers=rita.headers)).json()["items"]
        assert len(items) == 2
        reviewed = await http.post(
            f"/api/review/{items[0]['review_id']}",
            json={"passed": False, "comment": "No."},
            headers=rita.headers,
        )
        assert reviewed.status_code == 200, reviewed.text
    store = services.store
    streams = []
    for stream_id in await store.list_stream_ids():
        stored = await store.read_stream(stream_id)
        streams.append(
            [(decode(e.type, e.schema_version, e.data), str(e.data["actor"])) for e in stored]
        )
    rebuilt = rebuild_review_queue(streams, 1.0)
    held = {i["review_id"]: await store.get_review_item(i["review_id"]) for i in items}
    assert rebuilt == held
    assert rebuilt[items[0]["review_id"]].review is not None
    assert rebuilt[items[1]["review_id"]].review is None


async def _on_the_chat_step(http: httpx.AsyncClient, learner: Learner, answer: str) -> str:
    """A quiz session whose written answer failed once: the learner still has attempts."""
    sid = (await new_session(http, learner))["session_id"]
    for action, body in [*PLAY[:-1], ("answer", {"step_id": "explain", "answer": answer})]:
        response = await http.post(
            f"/api/sessions/{sid}/{action}", json=body, headers=learner.headers
        )
        assert response.status_code == 200, response.text
    view = response.json()
    assert (view["status"], view["step"]["id"], view["step"]["attempts_left"]) == (
        "active",
        "explain",
        2,
    )
    return str(sid)


async def test_a_pass_on_a_step_still_open_closes_it_and_the_session_moves_on(
    any_services: Services,
):
    async with client_for(any_services) as http:
        ada = await register(http)
        sid = await _on_the_chat_step(http, ada, "You can reuse code.")
        rita = await reviewer(http, any_services)
        (item,) = (await http.get("/api/review/queue", headers=rita.headers)).json()["items"]
        assert not item["verdict"]["passed"]

        applied = await http.post(
            f"/api/review/{item['review_id']}",
            json={"passed": True, "comment": "Reuse is the point."},
            headers=rita.headers,
        )

        assert applied.status_code == 200, applied.text
        result = applied.json()
        assert (result["passed"], result["score"], result["step_passed"]) == (True, 20.0, True)
        # The chat step was the last: the session is complete, passed, with its XP.
        assert (result["session_score"], result["result_passed"]) == (50.0, True)
        assert result["xp_granted"] == 100
        view = (await http.get(f"/api/sessions/{sid}", headers=ada.headers)).json()
        assert (view["status"], view["result"]["passed"], view["result"]["xp_granted"]) == (
            "completed",
            True,
            100,
        )
        reviews = [e["text"] for e in view["transcript"] if e["kind"] == "review"]
        assert reviews == ["Reuse is the point."]
        assert (await http.get("/api/me", headers=ada.headers)).json()["xp"] == 100
        # The learner can no longer answer the closed step.
        late = await http.post(
            f"/api/sessions/{sid}/answer",
            json={"step_id": "explain", "answer": "Named code."},
            headers=ada.headers,
        )
        assert late.status_code == 409
    assert await any_services.game.replay(sid) == await any_services.game.hydrate(sid)
    report = await verify_store(any_services.store)
    assert report.ok, report.findings


async def test_a_downward_review_on_an_open_step_keeps_the_learners_attempts(
    services: Services,
):
    async with client_for(services) as http:
        ada = await register(http)
        sid = await _on_the_chat_step(http, ada, "You can reuse code.")
        rita = await reviewer(http, services)
        (item,) = (await http.get("/api/review/queue", headers=rita.headers)).json()["items"]
        assert item["verdict"]["score"] == 10.0

        applied = await http.post(
            f"/api/review/{item['review_id']}",
            json={"passed": False, "items": {"reuse": 0}, "comment": "Say more."},
            headers=rita.headers,
        )

        assert applied.status_code == 200, applied.text
        result = applied.json()
        assert (result["score"], result["step_score"], result["step_passed"]) == (0.0, 0.0, False)
        assert result["result_passed"] is None
        view = (await http.get(f"/api/sessions/{sid}", headers=ada.headers)).json()
        assert (view["status"], view["step"]["id"], view["step"]["attempts_left"]) == (
            "active",
            "explain",
            2,
        )
        assert view["transcript"][-1]["kind"] == "review"
        # The next attempt is graded as usual and the session completes with it.
        done = await http.post(
            f"/api/sessions/{sid}/answer",
            json={"step_id": "explain", "answer": "You can reuse named code."},
            headers=ada.headers,
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed"
    assert await services.game.replay(sid) == await services.game.hydrate(sid)
    report = await verify_store(services.store)
    assert report.ok, report.findings
