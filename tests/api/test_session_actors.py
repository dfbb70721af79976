"""Admins may read any session; only its learner acts on it. Every event records its actor."""

from __future__ import annotations

import httpx

from api.app import create_app
from core.bootstrap import Services
from core.service.verify import verify_store
from tests.api.conftest import admin, new_session, register


async def test_an_admin_may_read_but_not_play_another_learners_session(any_services: Services):
    app = create_app(any_services, any_services.settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        ada = await register(http)
        fresh = (await new_session(http, ada, start=False))["session_id"]
        sid = (await new_session(http, ada))["session_id"]
        root = await admin(http, any_services)
        assert (await http.get(f"/api/sessions/{sid}", headers=root.headers)).status_code == 200
        before = (await http.get(f"/api/sessions/{sid}/events", headers=root.headers)).json()
        attempts = [
            (f"/api/sessions/{fresh}/start", None),
            (f"/api/sessions/{sid}/continue", {"step_id": "welcome"}),
            (f"/api/sessions/{sid}/answer", {"step_id": "welcome", "answer": 0}),
            (f"/api/sessions/{sid}/hint", {"step_id": "welcome"}),
            (f"/api/sessions/{sid}/abandon", None),
        ]
        for path, body in attempts:
            response = await http.post(path, json=body, headers=root.headers)
            assert response.status_code == 403, (path, response.text)
            assert "only its learner" in response.json()["detail"]
        after = (await http.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
        assert after == before  # nothing was recorded
        untouched = await http.get(f"/api/sessions/{fresh}", headers=ada.headers)
        assert untouched.json()["status"] == "created"
        # The learner still plays on.
        going_on = await http.post(
            f"/api/sessions/{sid}/continue", json={"step_id": "welcome"}, headers=ada.headers
        )
        assert going_on.status_code == 200


async def test_every_event_records_its_actor_and_replay_and_verify_still_agree(
    any_services: Services,
):
    app = create_app(any_services, any_services.settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        ada = await register(http)
        me = (await http.get("/api/me", headers=ada.headers)).json()
        view = await new_session(http, ada)
        sid = view["session_id"]
        play = [
            ("continue", {"step_id": "welcome"}),
            ("hint", {"step_id": "pick"}),
            ("answer", {"step_id": "pick", "answer": 0}),
            ("answer", {"step_id": "several", "answer": [0, 2]}),
            ("answer", {"step_id": "truth", "answer": True}),
            ("answer", {"step_id": "explain", "answer": "You can reuse named code."}),
        ]
        for action, body in play:
            response = await http.post(
                f"/api/sessions/{sid}/{action}", json=body, headers=ada.headers
            )
            assert response.status_code == 200, response.text
        assert response.json()["status"] == "completed"
        events = (await http.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()

    # The log keeps its shape ({version, type, data, recorded_at}); the actor is in the data.
    assert all(set(e) == {"version", "type", "data", "recorded_at"} for e in events)
    actors = {(e["type"], e["data"].get("actor")) for e in events}
    learner = me["id"]
    assert ("SessionCreated", learner) in actors
    assert ("SessionStarted", learner) in actors
    assert ("AnswerSubmitted", learner) in actors
    assert ("StepNarrated", "system:narrator") in actors
    assert ("AnswerGraded", "system:grader") in actors
    assert {actor for _, actor in actors} <= {
        learner,
        "system:narrator",
        "system:grader",
        "system:hints",
    }
    # The actor is part of the stored data, so the integrity chain covers it, and replay ignores it.
    replayed = await any_services.game.replay(sid)
    assert replayed == await any_services.game.hydrate(sid)
    report = await verify_store(any_services.store)
    assert report.ok, report.findings
