"""A code step in the browser: the editor, Run tests (no attempt spent), the draft across a
reload, Tab indenting, and Submit with results per test, against the real bubblewrap sandbox."""

from __future__ import annotations

import re

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, LiveServer
from tests.e2e.spa import answer_correctly, expect_step, register, start_challenge

pytestmark = pytest.mark.browser

TESTING = yaml.safe_load((ROOT / "challenges" / "python-testing.yaml").read_text(encoding="utf-8"))


def test_a_learner_writes_runs_and_submits_code(page: Page, live_server: LiveServer) -> None:
    register(page, live_server.url, name="Coder")
    start_challenge(page, TESTING["title"])
    steps = TESTING["steps"]
    for step in steps[:2]:
        expect_step(page, step)
        answer_correctly(page, step)
    code_step = steps[2]
    expect_step(page, code_step)
    editor = page.locator("textarea.code-input")
    expect(editor).to_have_value(re.compile(r"^def is_even\(n\):"))
    expect(page.locator(".code-gutter")).to_contain_text("1\n2")
    expect(page.locator(".code-tests summary")).to_have_text("Tests: 2 visible tests, 2 hidden")

    # Typing: Enter keeps the indentation and Tab indents; nothing is submitted by Enter.
    editor.fill("def is_even(n):")
    editor.press("End")
    editor.press("Enter")
    editor.type("return n % 2")
    expect(editor).to_have_value("def is_even(n):\n    return n % 2")
    editor.press("Enter")
    editor.press("Tab")
    expect(editor).to_have_value("def is_even(n):\n    return n % 2\n        ")
    editor.fill("def is_even(n):\n    return n % 2")

    # Run tests: the visible tests only, and no attempt is used.
    page.get_by_role("button", name="Run tests").click()
    summary = page.locator(".code-run-summary")
    expect(summary).to_contain_text("0 of 2 visible tests passed")
    expect(summary).to_contain_text("No attempt used")
    expect(page.locator(".code-result.is-fail").first).to_contain_text("is_even(4) should be True")
    expect(page.locator(".step-meta")).to_contain_text("5 attempts left")

    # The draft survives a reload.
    page.reload()
    expect_step(page, code_step)
    expect(page.locator("textarea.code-input")).to_have_value("def is_even(n):\n    return n % 2")

    # A wrong submission spends an attempt and shows every test, hidden ones as pass/fail only.
    page.get_by_role("button", name="Submit answer").click()
    feedback = page.locator(".transcript .entry-feedback").last
    expect(feedback).to_contain_text("tests passed")
    expect(feedback.locator(".rubric-item")).to_have_count(4)
    expect(feedback).to_contain_text("(hidden test)")
    expect(page.locator(".step-meta")).to_contain_text("4 attempts left")

    # The right code passes every test and moves on.
    page.locator("textarea.code-input").fill(str(code_step["solution"]))
    page.get_by_role("button", name="Run tests").click()
    expect(page.locator(".code-run-summary")).to_contain_text("2 of 2 visible tests passed")
    page.get_by_role("button", name="Submit answer").click()
    expect(page.locator(".transcript .entry-feedback").last).to_contain_text("All 4 tests passed!")
    expect_step(page, steps[3])


def test_a_hint_on_a_code_step_keeps_the_code_being_written(
    page: Page, live_server: LiveServer
) -> None:
    register(page, live_server.url, name="Hinted")
    start_challenge(page, TESTING["title"])
    steps = TESTING["steps"]
    for step in steps[:2]:
        expect_step(page, step)
        answer_correctly(page, step)
    code_step = steps[2]
    expect_step(page, code_step)
    editor = page.locator("textarea.code-input")
    editor.fill("def is_even(n):\n    return n % 2 == 0  # almost")
    page.get_by_role("button", name="Get a hint (3 left)").click()
    expect(page.locator(".transcript")).to_contain_text(str(code_step["hints"][0]).split("`")[0])
    expect(page.get_by_role("button", name="Get a hint (2 left)")).to_be_visible()
    expect(page.locator("textarea.code-input")).to_have_value(
        "def is_even(n):\n    return n % 2 == 0  # almost"
    )
