"""A teacher's review reaches the learner's transcript in the browser (issue 14)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, Challenge, LiveServer
from tests.e2e.spa import answer_correctly, expect_step, register, start_challenge

pytestmark = pytest.mark.browser


def test_the_learner_sees_a_teachers_review_with_its_comment_and_points(
    page: Page, live_server: LiveServer, challenge: Challenge
) -> None:
    register(page, live_server.url, name="Reviewed Learner")
    start_challenge(page, challenge.title)
    for step in challenge.steps:
        expect_step(page, step)
        answer_correctly(page, step)
    expect(page.locator("#completion-title")).to_be_visible()
    play_url = page.url

    with httpx.Client(base_url=live_server.url) as http:
        login = http.post("/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        items = http.get("/api/review/queue", headers=headers).json()["items"]
        assert items, "the chat grade reached the queue"
        item = items[-1]
        reviewed = http.post(
            f"/api/review/{item['review_id']}",
            json={"passed": True, "comment": "Well argued, <b>truly</b>."},
            headers=headers,
        )
        assert reviewed.status_code == 200, reviewed.text

    page.reload()
    assert page.url == play_url
    review = page.locator(".transcript .entry-review").last
    expect(review).to_contain_text("Reviewed by a teacher")
    expect(review).to_contain_text("Well argued, <b>truly</b>.")
    expect(review.locator(".score-pill")).to_contain_text("points")
