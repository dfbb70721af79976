"""The small things a new learner tripped over (issue 15, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Challenge, LiveServer
from tests.e2e.spa import play_to, register, snap, start_challenge

pytestmark = pytest.mark.browser

PASTE = """(text) => {
  const area = document.querySelector(".chat-box textarea");
  const data = new DataTransfer();
  data.setData("text/plain", text);
  area.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def test_start_over_asks_first_and_abandons_the_old_attempt(
    page: Page, live_server: LiveServer, challenge: Challenge
) -> None:
    register(page, live_server.url, name="Restart Rita")
    start_challenge(page, challenge.title)
    page.get_by_role("link", name="Challenges", exact=True).click()
    card = page.locator(".challenge-card", has_text=challenge.title)
    card.get_by_role("button", name="Start over").click()
    confirm = card.get_by_role("button", name="Abandon progress and start over?")
    expect(confirm).to_be_visible()  # nothing happened yet
    confirm.click()
    expect(page.locator("h1.player-title")).to_have_text(challenge.title)
    page.get_by_role("link", name="Profile", exact=True).click()
    history = page.locator(".history")
    expect(history).to_contain_text("Abandoned")
    expect(history.get_by_text("In progress", exact=True)).to_have_count(1)


def test_a_chat_draft_survives_a_reload_and_a_long_paste_is_reported(
    page: Page, live_server: LiveServer, challenge: Challenge, screenshot_dir: Path | None
) -> None:
    register(page, live_server.url, name="Draft Dora")
    start_challenge(page, challenge.title)
    multi = next(s for s in challenge.steps if s["type"] == "multi")
    play_to(page, challenge.steps, "multi")
    del multi
    card = page.locator(".step-card")
    expect(card).to_contain_text("Select all that apply")
    assert card.inner_text().lower().count("select all that apply") == 1
    play_to(page, challenge.steps[[s["type"] for s in challenge.steps].index("multi") :], "chat")
    area = page.locator(".chat-box textarea")
    area.fill("Functions let me reuse code")
    page.reload()
    expect(page.locator(".chat-box textarea")).to_have_value("Functions let me reuse code")
    page.locator(".chat-box textarea").fill("")
    page.evaluate(PASTE, "x" * 10_000)
    notice = page.locator(".paste-cut")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Only the first 5,000 characters fit: 5,000 pasted characters")
    snap(page, screenshot_dir, "paste-cut-1366")


def test_the_login_page_does_not_welcome_a_first_time_visitor_back(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/#/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert "Welcome back" not in page.locator("main").inner_text()
