"""Item analysis over HTTP: authors and admins read it per version and step; learners may not."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, admin, new_session, register


async def test_an_author_reads_item_analysis_per_version_and_step(client, services):
    ada = await register(client)
    view = await new_session(client, ada)
    sid = view["session_id"]
    for path, body in [
        ("continue", {"step_id": "welcome"}),
        ("answer", {"step_id": "pick", "answer": 1}),  # a wrong choice first
        ("answer", {"step_id": "pick", "answer": 0}),
    ]:
        response = await client.post(f"/api/sessions/{sid}/{path}", json=body, headers=ada.headers)
        assert response.status_code == 200, response.text

    await register(client, "ann@example.com", "Ann")
    await services.accounts.promote("ann@example.com", "author")
    login = await client.post(
        "/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    author = {"Authorization": f"Bearer {login.json()['access_token']}"}
    response = await client.get("/api/admin/item-analysis/quiz", headers=author)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["challenge_id"] == "quiz"
    [version] = body["versions"]
    assert (version["version"], version["sessions"], version["completed"]) == (1, 1, 0)
    steps = {step["step_id"]: step for step in version["steps"]}
    pick = steps["pick"]
    assert (pick["reached"], pick["first_try_passed"], pick["difficulty"]) == (1, 0, 0.0)
    assert pick["median_attempts"] == 2.0
    assert [(c["index"], c["correct"], c["picked"]) for c in pick["choices"]] == [
        (0, True, 1),
        (1, False, 1),
        (2, False, 0),
    ]
    assert steps["several"]["dropped"] == 1  # the session stopped there
    assert [r["item_id"] for r in steps["explain"]["rubric"]] == ["reuse", "names"]
    assert steps["explain"]["rubric"][0]["hit_rate"] is None  # never graded

    root = await admin(client, services)
    assert (
        await client.get("/api/admin/item-analysis/quiz", headers=root.headers)
    ).status_code == 200
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "hit_rate" in schema["RubricHit"]["properties"]


async def test_learners_may_not_read_item_analysis_and_unknown_challenges_are_404(client, services):
    ada = await register(client)
    response = await client.get("/api/admin/item-analysis/quiz", headers=ada.headers)
    assert response.status_code == 403
    root = await admin(client, services)
    response = await client.get("/api/admin/item-analysis/nope", headers=root.headers)
    assert response.status_code == 404, response.text
    assert (await client.get("/api/admin/item-analysis/quiz")).status_code == 401
