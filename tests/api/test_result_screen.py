"""The result screen over HTTP: the per-step breakdown and the next challenge to play."""

from __future__ import annotations

from core.content import ChallengeFile
from tests.api.conftest import QUIZ, new_session, register

ANSWERS = [
    ("continue", {"step_id": "welcome"}),
    ("answer", {"step_id": "pick", "answer": 0}),
    ("answer", {"step_id": "several", "answer": [0, 2]}),
    ("answer", {"step_id": "truth", "answer": True}),
    ("answer", {"step_id": "explain", "answer": "Functions are reused and named."}),
]


async def finish(client, learner) -> dict:
    view = await new_session(client, learner)
    for path, body in ANSWERS:
        response = await client.post(
            f"/api/sessions/{view['session_id']}/{path}", json=body, headers=learner.headers
        )
        assert response.status_code == 200, response.text
        view = response.json()
    assert view["ui_mode"] == "COMPLETED"
    return view


async def test_the_result_suggests_the_next_challenge_not_yet_passed(client, services):
    sequel = {**QUIZ, "id": "sequel", "title": "The sequel", "difficulty": "advanced"}
    await services.catalog.publish(ChallengeFile.model_validate(sequel), at=services.clock.now())
    ada = await register(client)
    view = await finish(client, ada)
    assert view["result"]["next_challenge"] == {
        "id": "sequel",
        "title": "The sequel",
        "difficulty": "advanced",
        "estimated_minutes": view["result"]["next_challenge"]["estimated_minutes"],
    }
    again = await client.get(f"/api/sessions/{view['session_id']}", headers=ada.headers)
    assert again.json()["result"]["next_challenge"]["id"] == "sequel"
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "next_challenge" in schema["ResultOut"]["properties"]


async def test_no_suggestion_once_every_other_challenge_is_passed(client):
    ada = await register(client)
    view = await finish(client, ada)
    assert view["result"]["next_challenge"] is None
