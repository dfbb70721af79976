"""Steps a learner takes in the SPA, shared by the browser tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

UI_MODE = {
    "gate": "CONTINUE_GATE",
    "mcq": "MCQ_SINGLE",
    "multi": "MCQ_MULTI",
    "true_false": "TRUE_FALSE",
    "chat": "CHAT",
    "code": "CODE",
}
PASSWORD = "a-long-pass-phrase-42"


def unique_email(prefix: str = "learner") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def register(page: Page, base_url: str, *, name: str, email: str | None = None) -> str:
    """Create an account through the form; return its email. Lands on the catalogue."""
    email = email or unique_email()
    page.goto(f"{base_url}/#/register")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1, name="Challenges")).to_be_visible()
    return email


def log_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/#/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def start_challenge(page: Page, title: str) -> None:
    card = page.locator(".challenge-card", has_text=title)
    card.get_by_role("button", name="Start").click()
    expect(page.locator("h1.player-title")).to_have_text(title)


def expect_step(page: Page, step: dict[str, Any]) -> None:
    expect(page.locator("#step-title")).to_have_text(str(step["title"]))
    expect(page.locator(".step-card")).to_have_attribute("data-mode", UI_MODE[str(step["type"])])


def correct_indices(step: dict[str, Any]) -> list[int]:
    return [i for i, choice in enumerate(step["choices"]) if choice.get("correct")]


def passing_answer(step: dict[str, Any]) -> str:
    return next(e["answer"] for e in step["examples"] if e["expect"] == "pass")


def answer_correctly(page: Page, step: dict[str, Any]) -> None:
    """Answer the step on screen the right way, with the mouse."""
    kind = step["type"]
    if kind == "gate":
        page.get_by_role("button", name="Continue").click()
        return
    form = page.locator(".step-form")
    if kind in ("mcq", "multi"):
        for index in correct_indices(step):
            form.locator("fieldset input").nth(index).check()
    elif kind == "true_false":
        form.locator(f'input[value="{str(bool(step["answer"])).lower()}"]').check()
    elif kind == "code":
        form.locator("textarea.code-input").fill(str(step["solution"]))
    else:
        form.locator("textarea").fill(passing_answer(step))
    form.get_by_role("button", name="Submit answer").click()


def play_to(page: Page, steps: list[dict[str, Any]], stop_before: str) -> dict[str, Any]:
    """Answer every step correctly up to the first step of type ``stop_before``; return it."""
    for step in steps:
        expect_step(page, step)
        if step["type"] == stop_before:
            return step
        answer_correctly(page, step)
    raise AssertionError(f"no {stop_before} step")


def no_horizontal_scroll(page: Page) -> None:
    """Nothing sticks out past the screen's edge (a mobile viewport would widen to fit it)."""
    screen = page.viewport_size["width"] if page.viewport_size else 0
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= screen and inner_width <= screen, (
        f"the page is {scroll_width}px wide (layout viewport {inner_width}px) on a {screen}px screen"
    )


def snap(page: Page, directory: Path | None, name: str, *, full_page: bool = False) -> None:
    if directory is not None:
        page.screenshot(path=str(directory / f"{name}.png"), full_page=full_page)
