"""A teacher's review reaches the learner's transcript in the browser (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN, Challenge, LiveServer, PageProblems, open_page
from tests.e2e.spa import (
    answer_correctly,
    expect_step,
    log_in,
    no_horizontal_scroll,
    register,
    snap,
    start_challenge,
)

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


def _failing_answer(step: dict[str, Any]) -> str:
    """A plainly wrong answer (not one that tries to instruct the grader)."""
    return next(
        str(e["answer"])
        for e in step["examples"]
        if e["expect"] == "fail" and not re.search(r"ignore|system", str(e["answer"]), re.I)
    )


def _fail_chat_step(page: Page, step: dict[str, Any]) -> None:
    """Answer a chat step wrongly until its attempts run out (each grade joins the queue)."""
    feedback = page.locator(".transcript .entry-feedback")
    for _ in range(int(step.get("max_attempts", 3))):
        before = feedback.count()
        form = page.locator(".step-form")
        form.locator("textarea").fill(_failing_answer(step))
        form.get_by_role("button", name="Submit answer").click()
        expect(feedback).to_have_count(before + 1)


def test_a_reviewer_works_the_queue_in_the_browser_and_the_learner_sees_the_new_result(
    browser: Browser,
    live_server: LiveServer,
    challenge: Challenge,
    problems: PageProblems,
    screenshot_dir: Path | None,
) -> None:
    expect.set_options(timeout=15_000)
    context, page = open_page(browser, problems)
    reviewer_context, reviewer = open_page(browser, problems)
    try:
        # A learner fails both written steps: 100 of 160 points, below the 70% pass mark, no XP.
        register(page, live_server.url, name="Queue Learner")
        expect(page.get_by_role("link", name="Review")).to_have_count(0)
        start_challenge(page, challenge.title)
        session_id = page.url.rsplit("/", 1)[-1]
        for step in challenge.steps:
            expect_step(page, step)
            if step["type"] == "chat":
                _fail_chat_step(page, step)
            else:
                answer_correctly(page, step)
        expect(page.locator("#completion-title")).to_have_text("Not passed this time")
        expect(page.locator(".xp-granted")).to_have_text("+0")
        chat = challenge.step("chat")

        # The reviewer (an admin) opens the page from the navigation and filters the queue.
        log_in(reviewer, live_server.url, ADMIN[0], ADMIN[1])
        reviewer.get_by_role("link", name="Review").click()
        expect(reviewer.get_by_role("heading", level=1, name="Review")).to_be_visible()
        expect(reviewer.locator(".review-shortcuts")).to_contain_text("confirm")
        reviewer.get_by_label("Challenge").select_option(challenge.id)
        reviewer.get_by_label("Step").select_option(str(chat["id"]))
        ours = reviewer.locator(f'.review-entry[data-session-id="{session_id}"]')
        expect(ours).to_have_count(int(chat.get("max_attempts", 3)))  # type: ignore[call-overload]
        for entry in reviewer.locator(".review-entry").all():
            assert entry.get_attribute("data-step-id") == chat["id"]

        # N moves to the next answer; the first of ours shows the answer, the rubric and confidence.
        reviewer.get_by_role("heading", level=1, name="Review").click()
        first_id = reviewer.locator(".review-card").get_attribute("data-review-id")
        if reviewer.locator(".review-entry").count() > 1:
            reviewer.keyboard.press("n")
            expect(reviewer.locator(".review-card")).not_to_have_attribute(
                "data-review-id", str(first_id)
            )
        last = ours.last
        last.click()
        card = reviewer.locator(".review-card")
        expect(card.locator(".review-answer")).to_have_text(_failing_answer(chat))
        expect(card.locator(".review-confidence")).not_to_have_text("")
        rubric = chat["rubric"]  # type: ignore[index]
        expect(card.locator(".review-rubric tbody tr")).to_have_count(len(rubric))
        snap(reviewer, screenshot_dir, "review-desktop", full_page=True)

        # Another reviewer gets in first: confirming is a 409, offered as a replacement.
        review_id = str(last.get_attribute("data-review-id"))
        with httpx.Client(base_url=live_server.url) as http:
            login = http.post("/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            first = http.post(f"/api/review/{review_id}", json={"passed": False}, headers=headers)
            assert first.status_code == 200, first.text

        # Full points on every rubric item, F flips to a pass, Ctrl+Enter confirms from the comment.
        for item in rubric:
            card.get_by_label(f"Your points for {item['id']}").fill(str(item["points"]))
        card.locator("h2").focus()
        reviewer.keyboard.press("f")
        expect(card.get_by_label("Passed")).to_be_checked()
        card.get_by_label("Comment for the learner").fill("You explained it well: reuse.")
        reviewer.keyboard.press("Control+Enter")
        error = reviewer.locator(".review-error")
        expect(error).to_contain_text("already reviewed")
        snap(reviewer, screenshot_dir, "review-conflict")
        error.get_by_role("button", name="Replace the earlier review").click()
        saved = reviewer.locator(".review-saved")
        expect(saved).to_contain_text(f"passed, {chat['points']} / {chat['points']} points")
        total = re.search(r"total is now ([0-9]+(?:\.[0-9]+)?)", saved.inner_text())
        assert total is not None and float(total.group(1)) >= 112, saved.inner_text()
        expect(reviewer.locator(f'.review-entry[data-review-id="{review_id}"]')).to_have_count(0)
        # The challenge's grader agreement, for the chosen step, counts the reviews just made.
        stats = reviewer.locator(".review-stats")
        expect(stats.get_by_role("heading", name="Grader agreement")).to_be_visible()
        row = stats.locator(f'tr[data-step-id="{chat["id"]}"]')
        expect(row).to_have_count(1)
        expect(stats.locator("tbody tr")).to_have_count(1)
        expect(row.locator("td").first).not_to_have_text("0")
        reviewer.set_viewport_size({"width": 360, "height": 800})
        expect(reviewer.locator(".review-card")).to_be_visible()
        no_horizontal_scroll(reviewer)

        # The learner's transcript, result and XP follow the review: 130 of 160 now passes.
        page.reload()
        review = page.locator(".transcript .entry-review").last
        expect(review).to_contain_text("Reviewed by a teacher")
        expect(review).to_contain_text("You explained it well: reuse.")
        expect(page.locator("#completion-title")).to_have_text("You passed!")
        expect(page.locator(".xp-granted")).not_to_have_text("+0")
        expect(page.locator(".completion-card")).to_contain_text(f"{total.group(1)} / 160")
        snap(page, screenshot_dir, "review-learner", full_page=True)
    finally:
        reviewer_context.close()
        context.close()
    problems.assert_none()


def test_the_review_page_is_for_reviewers_only(page: Page, live_server: LiveServer) -> None:
    register(page, live_server.url, name="Curious Learner")
    expect(page.get_by_role("link", name="Review")).to_have_count(0)
    page.goto(f"{live_server.url}/#/review")
    expect(page.locator(".notice-error")).to_contain_text("for reviewers")
