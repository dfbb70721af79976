"""The rest of the SPA in the browser: sign-in and token refresh, errors, the phone layout, admin."""

from __future__ import annotations

import re
from pathlib import Path

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

REFRESH_COOKIE = "__Secure-curiouscore-refresh"


def no_token_in_page_storage(page: Page) -> None:
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert "eyJ" not in stored, stored  # no JWT
    assert REFRESH_COOKIE not in page.evaluate("document.cookie")  # HttpOnly: scripts cannot see it


def refresh_cookie(page: Page) -> dict:
    cookies = [c for c in page.context.cookies() if c["name"] == REFRESH_COOKIE]
    assert len(cookies) == 1, cookies
    return dict(cookies[0])


def test_wrong_password_shows_a_friendly_message_then_login_works(
    page: Page, live_server: LiveServer
) -> None:
    email = register(page, live_server.url, name="Forgetful")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == REFRESH_COOKIE]
    page.reload()  # signed out for good: a reload does not bring the sign-in back
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()

    log_in(page, live_server.url, email, "not-the-password")
    error = page.locator(".auth-form .form-error")
    expect(error).to_be_visible()
    assert re.match(r"^[A-Z][^\n]{5,200}$", error.inner_text()), error.inner_text()
    assert "Traceback" not in error.inner_text()

    log_in(page, live_server.url, email)
    expect(page.get_by_role("heading", level=1, name="Challenges")).to_be_visible()


def test_the_sign_in_survives_a_reload_through_an_httponly_cookie_and_a_spent_one_logs_out(
    page: Page, live_server: LiveServer
) -> None:
    register(page, live_server.url, name="Refresher")
    no_token_in_page_storage(page)
    before = refresh_cookie(page)
    assert before["httpOnly"] and before["secure"] and before["sameSite"] == "Strict"
    assert before["path"] == "/api/auth"

    page.goto(f"{live_server.url}/#/profile")
    page.reload()  # the access token was in memory only: the cookie brings the sign-in back
    expect(page.locator(".profile-card")).to_contain_text("Refresher")
    no_token_in_page_storage(page)
    assert refresh_cookie(page)["value"] != before["value"], "the refresh token rotates on use"

    # A spent refresh token cannot be used again: the SPA gives up and asks to log in.
    page.context.add_cookies([{**before, "value": before["value"]}])  # type: ignore[list-item]
    page.goto(f"{live_server.url}/#/leaderboard")
    page.reload()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    expect(page.locator(".notice-info")).to_contain_text("expired")


def test_the_app_fits_a_phone_screen(
    browser: Browser, live_server: LiveServer, challenge: Challenge, screenshot_dir: Path | None
) -> None:
    problems = PageProblems()
    context, page = open_page(browser, problems, width=360, height=740, mobile=True)
    try:
        page.goto(f"{live_server.url}/")
        expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
        no_horizontal_scroll(page)
        register(page, live_server.url, name="Pocket Learner With A Rather Long Display Name")
        no_horizontal_scroll(page)
        snap(page, screenshot_dir, "catalogue-phone", full_page=True)
        start_challenge(page, challenge.title)
        # Every step: long code lines in a step or the transcript must scroll inside their block.
        for step in challenge.steps:
            expect_step(page, step)
            no_horizontal_scroll(page)
            if step["type"] == "chat":
                snap(page, screenshot_dir, "player-phone", full_page=True)
            answer_correctly(page, step)
        expect(page.locator(".completion-card")).to_be_visible()
        no_horizontal_scroll(page)
        snap(page, screenshot_dir, "completion-phone")
        for route, ready in (
            ("/#/profile", ".profile-card"),
            ("/#/leaderboard", ".leaderboard-page"),
        ):
            page.goto(f"{live_server.url}{route}")
            expect(page.locator(ready)).to_be_visible()
            no_horizontal_scroll(page)
        snap(page, screenshot_dir, "leaderboard-phone", full_page=True)
    finally:
        context.close()
    problems.assert_none()


def test_only_an_admin_sees_the_analytics_charts(
    page: Page, live_server: LiveServer, challenge: Challenge, screenshot_dir: Path | None
) -> None:
    # A learner finishes a step so the charts have something to draw, and sees no admin link.
    register(page, live_server.url, name="Plain Learner")
    expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    start_challenge(page, challenge.title)
    expect_step(page, challenge.steps[0])
    answer_correctly(page, challenge.steps[0])
    expect_step(page, challenge.steps[1])
    page.goto(f"{live_server.url}/#/admin")
    expect(page.locator(".notice-error")).to_contain_text("administrators")
    page.get_by_role("button", name="Log out").click()

    email, password, _name = ADMIN
    log_in(page, live_server.url, email, password)
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(4)
    for title in (
        "Pass rate per challenge",
        "Most-failed steps",
        "Daily active learners",
        "LLM cost per day",
    ):
        expect(page.locator("figure.chart", has_text=title)).to_be_visible()
    expect(
        page.locator("figure.chart", has_text="Pass rate per challenge").locator("svg .bar")
    ).not_to_have_count(0)
    expect(
        page.locator("figure.chart", has_text="Daily active learners").locator("svg .dot")
    ).not_to_have_count(0)
    expect(page.locator(".stat", has_text="Learners")).to_be_visible()
    system = page.locator(".system-stats")
    expect(system.get_by_role("row", name="API requests (this process)")).to_contain_text(" ms")
    expect(system.get_by_role("row", name="LLM provider calls")).to_be_visible()
    # One source per figure: the tile's calls are the System table's; 4xx are not server errors.
    calls = system.get_by_role("row", name="LLM provider calls").locator("td").first.inner_text()
    expect(page.locator(".stat", has_text="LLM cost")).to_contain_text(f"{calls} provider calls")
    requests_row = system.get_by_role("row", name="API requests (this process)")
    expect(requests_row).to_contain_text("server errors (5xx)")
    expect(requests_row).to_contain_text("client errors (4xx)")
    # The learner was refused the admin page (403): a client error, never a server error.
    expect(requests_row).to_contain_text("0% server errors")
    # A challenge nobody completed has no bar at all, and a $0 day still has its column.
    widths = page.locator("figure.chart", has_text="Pass rate per challenge").evaluate(
        """figure => [...figure.querySelectorAll("svg .bar-row")].map(row => [
            row.querySelector(".bar-value").textContent,
            row.querySelector("rect.bar").getAttribute("width"),
        ])"""
    )
    assert widths and all(width == "0" for value, width in widths if value == "—"), widths
    expect(
        page.locator("figure.chart", has_text="LLM cost per day").locator("svg .column")
    ).not_to_have_count(0)
    snap(page, screenshot_dir, "admin-desktop", full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    snap(page, screenshot_dir, "admin-360", full_page=True)
