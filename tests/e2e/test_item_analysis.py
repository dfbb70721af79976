"""Item analysis on the admin page: per challenge version and step, for authors and admins."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, Challenge, LiveServer
from tests.e2e.spa import (
    answer_correctly,
    correct_indices,
    expect_step,
    log_in,
    no_horizontal_scroll,
    register,
    snap,
    start_challenge,
)

pytestmark = pytest.mark.browser


def test_an_author_and_an_admin_see_item_analysis_per_version_and_step(
    page: Page, live_server: LiveServer, challenge: Challenge, screenshot_dir: Path | None
) -> None:
    # A learner picks a wrong choice on the first multiple-choice step, then the right one.
    email = register(page, live_server.url, name="Item Learner")
    start_challenge(page, challenge.title)
    mcq = challenge.step("mcq")
    for step in challenge.steps:
        expect_step(page, step)
        if step is mcq:
            break
        answer_correctly(page, step)
    wrong = next(i for i in range(len(mcq["choices"])) if i not in correct_indices(mcq))  # type: ignore[arg-type]
    form = page.locator(".step-form")
    form.locator("fieldset input").nth(wrong).check()
    form.get_by_role("button", name="Submit answer").click()
    expect(page.locator(".transcript .entry-feedback").last).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    # The learner's own account made an author: the admin page shows item analysis only.
    live_server.promote(email, "author")
    log_in(page, live_server.url, email)
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Item analysis")).to_be_visible()
    expect(page.locator("figure.chart")).to_have_count(0)
    section = page.locator(".item-analysis")
    section.get_by_label("Challenge").select_option(label=challenge.title)
    row = section.locator(f'tr[data-step="{mcq["id"]}"]')
    expect(row).to_contain_text("Wrong choices picked:")
    expect(row).to_contain_text(str(mcq["choices"][wrong]["text"])[:20])  # type: ignore[index]
    expect(section.locator(".item-version h3").first).to_contain_text("Version 1")
    chat = challenge.step("chat")
    expect(section.locator(f'tr[data-step="{chat["id"]}"]')).to_contain_text(
        "Rubric items at full points:"
    )
    snap(page, screenshot_dir, "item-analysis-1366", full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    no_horizontal_scroll(page)
    snap(page, screenshot_dir, "item-analysis-360", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})
    page.get_by_role("button", name="Log out").click()

    # An admin sees it below the analytics charts.
    admin_email, password, _name = ADMIN
    log_in(page, live_server.url, admin_email, password)
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    section = page.locator(".item-analysis")
    section.get_by_label("Challenge").select_option(label=challenge.title)
    expect(section.locator(f'tr[data-step="{mcq["id"]}"]')).to_contain_text("Wrong choices picked:")
