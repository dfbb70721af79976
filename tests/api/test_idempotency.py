"""Idempotency keys over HTTP: a key names one request; reusing it for another is a 422."""

from __future__ import annotations

from tests.api.conftest import new_session, register


async def _post(client, learner, sid, path, body, key):
    headers = {**learner.headers, "Idempotency-Key": key}
    return await client.post(f"/api/sessions/{sid}/{path}", json=body, headers=headers)


async def test_the_same_key_with_another_body_is_a_422_that_says_so(any_client):
    ada = await register(any_client)
    sid = (await new_session(any_client, ada))["session_id"]
    await _post(any_client, ada, sid, "continue", {"step_id": "welcome"}, "k-continue")
    first = await _post(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 1}, "k-1")
    events = (await any_client.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()

    other = await _post(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 0}, "k-1")
    hint = await _post(any_client, ada, sid, "hint", {"step_id": "pick"}, "k-1")

    for refused in (other, hint):
        assert refused.status_code == 422, refused.text
        assert "Idempotency-Key was already used for a different request" in str(
            refused.json()["detail"]
        )
    after = (await any_client.get(f"/api/sessions/{sid}/events", headers=ada.headers)).json()
    assert after == events
    again = await _post(any_client, ada, sid, "answer", {"step_id": "pick", "answer": 1}, "k-1")
    assert again.status_code == 200 and again.json() == first.json()
