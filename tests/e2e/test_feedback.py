"""Feedback a learner can act on: per option, whole points, a result breakdown and the next
challenge to play (issue 15)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Challenge, LiveServer
from tests.e2e.spa import (
    answer_correctly,
    correct_indices,
    expect_step,
    no_horizontal_scroll,
    register,
    snap,
    start_challenge,
)

pytestmark = pytest.mark.browser


def test_a_partial_multi_answer_is_partly_right_per_option_and_the_result_has_a_breakdown(
    page: Page, live_server: LiveServer, challenge: Challenge, screenshot_dir: Path | None
) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    register(page, live_server.url, name="Partial Pat")
    start_challenge(page, challenge.title)
    partial_points = None
    for step in challenge.steps:
        expect_step(page, step)
        if step["type"] != "multi" or partial_points is not None:
            answer_correctly(page, step)
            continue
        right = correct_indices(step)
        form = page.locator(".step-form")
        for index in right[:-1]:  # all right answers but one, no wrong one
            form.locator("fieldset input").nth(index).check()
        form.get_by_role("button", name="Submit answer").click()
        feedback = page.locator(".transcript .entry-feedback").last
        expect(feedback.locator(".entry-who")).to_contain_text("Partly right")
        points = int(step["points"])  # type: ignore[call-overload]
        partial_points = math.floor(points * (len(right) - 1) / len(right) + 0.5)
        expect(feedback.locator(".score-pill")).to_have_text(f"{partial_points} / {points} points")
        expect(feedback.locator('.option-feedback[data-verdict="right"]')).to_have_count(
            len(right) - 1
        )
        expect(feedback.locator('.option-feedback[data-verdict="missed"]')).to_have_count(1)
        expect(feedback.locator('.option-feedback[data-verdict="missed"]')).to_contain_text(
            "A right answer you did not pick"
        )
        snap(page, screenshot_dir, "multi-feedback-1366")

    completion = page.locator(".completion-card")
    expect(completion).to_be_visible()
    breakdown = completion.locator(".result-breakdown")
    scored = [s for s in challenge.steps if s["type"] != "gate"]
    expect(breakdown.locator("tbody tr")).to_have_count(len(scored))
    multi = next(s for s in scored if s["type"] == "multi")
    row = breakdown.locator("tbody tr", has_text=str(multi["title"]))
    expect(row.locator("td").first).to_have_text(f"{partial_points} / {multi['points']}")
    score_text = completion.locator(".facts-result dd").first.inner_text()
    assert "." not in score_text, score_text  # whole points only
    snap(page, screenshot_dir, "completion-breakdown-1366", full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    no_horizontal_scroll(page)
    snap(page, screenshot_dir, "completion-breakdown-360", full_page=True)

    # The next challenge not yet passed (python-functions is the first beginner one), one click away.
    suggestion = completion.locator(".next-challenge")
    expect(suggestion).to_contain_text("Python: Testing Your Own Functions")
    expect(suggestion).to_contain_text("beginner")
    page.set_viewport_size({"width": 1366, "height": 768})
    suggestion.get_by_role("button", name="Start").click()
    expect(page.locator("h1.player-title")).to_have_text("Python: Testing Your Own Functions")
