"""A learner plays in the browser: a whole challenge, hints, untrusted text, resume, keyboard only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Challenge, LiveServer, PageProblems
from tests.e2e.spa import (
    answer_correctly,
    correct_indices,
    expect_step,
    play_to,
    register,
    snap,
    start_challenge,
)

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


def test_learner_registers_and_plays_every_step_type_to_the_completion_screen(
    page: Page, live_server: LiveServer, challenge: Challenge, screenshot_dir: Path | None
) -> None:
    register(page, live_server.url, name="Grace Hopper")
    card = page.locator(".challenge-card", has_text=challenge.title)
    expect(card).to_contain_text("Beginner")
    expect(card).to_contain_text("20 min")
    expect(card).to_contain_text("100 XP")
    expect(card).to_contain_text("New")
    snap(page, screenshot_dir, "catalogue-desktop", full_page=True)
    start_challenge(page, challenge.title)

    hinted = False
    for step in challenge.steps:
        expect_step(page, step)
        if step["type"] == "mcq" and not hinted:
            # A hint appears in the transcript and lowers what the step can still earn.
            hint = page.get_by_role("button", name=re.compile(r"Get a hint \(\d+ left\)"))
            left = int(re.search(r"\((\d+) left\)", hint.inner_text()).group(1))
            hint.click()
            expect(page.locator(".transcript .entry-hint")).to_have_count(1)
            expect(page.locator(".transcript .entry-hint")).to_contain_text(
                str(step["hints"][0]).replace("`", "")
            )
            expect(page.get_by_role("button", name=f"Get a hint ({left - 1} left)")).to_be_visible()
            expect(page.locator(".step-meta")).to_contain_text(f"of {step['points']} points")
            hinted = True
        if step["type"] == "chat":
            snap(page, screenshot_dir, "chat-step-desktop")
        answer_correctly(page, step)
        if step["type"] == "chat":
            feedback = page.locator(".transcript .entry-feedback").last
            expect(feedback).to_contain_text(f"/ {step['points']} points")
            rubric = feedback.locator(".rubric-item")
            expect(rubric).to_have_count(len(step["rubric"]))
            expect(rubric.first.locator(".rubric-points")).to_have_text(
                re.compile(rf"/ {step['rubric'][0]['points']}$")
            )

    completion = page.locator(".completion-card")
    expect(page.locator("#completion-title")).to_have_text("You passed!")
    expect(completion).to_contain_text("Challenge complete")
    xp_text = completion.locator(".xp-granted").inner_text()
    xp = int(xp_text.lstrip("+"))
    assert 0 < xp <= 100
    expect(completion.locator(".xp-value")).to_have_text(f"+{xp} XP")
    expect(page.locator(".player-stats")).to_contain_text(f"All {len(challenge.steps)} steps done")
    expect(page.locator(".user-level")).to_contain_text(f"{xp} XP")
    snap(page, screenshot_dir, "completion-desktop")

    # The profile and the leaderboard show the XP just earned.
    page.get_by_role("link", name="Profile", exact=True).click()
    expect(page.locator(".profile-xp")).to_have_text(str(xp))
    expect(page.locator(".profile-level")).to_have_text("1")
    expect(page.locator(".history")).to_contain_text(challenge.title)
    expect(page.locator(".history")).to_contain_text("Passed")
    page.get_by_role("button", name="Get a link code").click()
    expect(page.locator(".link-code")).to_have_text(re.compile(r"^[A-Z0-9-]{6,}$"))
    snap(page, screenshot_dir, "profile-desktop", full_page=True)

    page.get_by_role("link", name="Leaderboard", exact=True).click()
    mine = page.locator(".leaderboard tr.is-me")
    expect(mine).to_contain_text("Grace Hopper")
    expect(mine.locator(".xp")).to_have_text(str(xp))

    # The catalogue now shows the challenge as passed.
    page.get_by_role("link", name="Challenges", exact=True).click()
    expect(page.locator(".challenge-card", has_text=challenge.title)).to_contain_text("Passed")


def test_markup_in_an_answer_or_a_name_shows_as_text_and_never_runs(
    page: Page, live_server: LiveServer, challenge: Challenge, problems: PageProblems
) -> None:
    register(page, live_server.url, name="<b>Mallory</b>")
    expect(page.locator(".user-name")).to_have_text("<b>Mallory</b>")
    start_challenge(page, challenge.title)
    play_to(page, challenge.steps, stop_before="chat")

    page.locator(".step-form textarea").fill(XSS)
    page.get_by_role("button", name="Submit answer").click()

    answer = page.locator(".transcript .entry-answer .answer-text").last
    expect(answer).to_have_text(XSS)
    expect(page.locator(".transcript .entry-feedback").last).to_contain_text("0 / ")
    assert page.locator(".transcript img").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#main b").count() == 0
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert problems.dialogs == []


def test_reloading_resumes_the_session_where_it_was(
    page: Page, live_server: LiveServer, challenge: Challenge
) -> None:
    register(page, live_server.url, name="Resumer")
    start_challenge(page, challenge.title)
    first, second, third = challenge.steps[:3]
    expect_step(page, first)
    answer_correctly(page, first)
    expect_step(page, second)
    answer_correctly(page, second)
    expect_step(page, third)
    play_url = page.url

    page.reload()
    expect_step(page, third)
    expect(page.locator(".transcript .entry-answer")).to_have_count(1)
    expect(page.locator(".player-stats")).to_contain_text(f"Step 3 of {len(challenge.steps)}")

    # The catalogue offers to resume it too.
    page.get_by_role("link", name="Challenges", exact=True).click()
    card = page.locator(".challenge-card", has_text=challenge.title)
    expect(card).to_contain_text(f"In progress · Step 3 of {len(challenge.steps)}")
    card.get_by_role("link", name="Resume").click()
    expect_step(page, third)
    assert page.url == play_url


def test_a_multiple_choice_step_is_playable_with_the_keyboard_alone(
    page: Page, live_server: LiveServer, challenge: Challenge
) -> None:
    register(page, live_server.url, name="Keys Only")
    start_challenge(page, challenge.title)
    gate, mcq = challenge.steps[0], challenge.steps[1]
    assert gate["type"] == "gate" and mcq["type"] == "mcq"
    expect_step(page, gate)
    page.keyboard.press("Enter")
    expect_step(page, mcq)
    # Focus moved to the new step's heading.
    assert page.evaluate("document.activeElement.id") == "step-title"

    right = correct_indices(mcq)[0]
    wrong = next(i for i in range(len(mcq["choices"])) if i != right)
    page.keyboard.press(str(wrong + 1))
    page.keyboard.press("Enter")
    expect(page.locator(".transcript .entry-feedback")).to_have_count(1)
    expect(page.locator(".step-card .notice-warn")).to_contain_text("1 attempt left")

    # Tab reaches the choices; arrow keys move between them like any radio group.
    page.locator("#step-title").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "radio":
            break
    assert page.evaluate("document.activeElement.type") == "radio"
    page.keyboard.press(str(right + 1))
    assert page.evaluate("document.activeElement.value") == str(right)
    page.keyboard.press("Enter")
    expect_step(page, challenge.steps[2])
    expect(page.locator(".transcript .entry-feedback.is-pass")).to_have_count(1)
    assert page.evaluate("document.activeElement.id") == "step-title"
