"""PENDING_WORK=queue in the browser: the API (uvicorn) and a `curiouscore worker` as real
processes on PostgreSQL, the LLM a local fake. A chat answer shows "Grading your answer…" at once;
the grade the worker records is pushed over the session's SSE stream, without polling."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.api.conftest import reset_postgres
from tests.core.llm.conftest import API_KEY
from tests.core.llm.fake_server import FakeLlmServer
from tests.e2e.conftest import (
    ROOT,
    Challenge,
    LiveServer,
    PageProblems,
    _free_port,
    open_page,
)
from tests.e2e.spa import answer_correctly, play_to, register, start_challenge

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
START_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLlmServer]:
    server = FakeLlmServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def queued_server(
    chromium_path: str, fake_llm: FakeLlmServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app with PENDING_WORK=queue on PostgreSQL, and one worker beside it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        database_url = pool.submit(asyncio.run, reset_postgres()).result()
    workdir = tmp_path_factory.mktemp("e2e-queue")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENV": "test",
        "SECRET_KEY": secrets.token_hex(32),
        "PENDING_WORK": "queue",
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": f"{fake_llm.url}/v1",
        "LLM_TIMEOUT_SECONDS": "120",
        "CHALLENGES_DIR": str(ROOT / "challenges"),
        "LOGIN_RATE_LIMIT_PER_MINUTE": "1000",
        "REGISTER_RATE_LIMIT_PER_HOUR": "1000",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            cwd=workdir, env={**env, "PENDING_WORK": "inline"}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, api, log)  # seeding PostgreSQL on a busy machine takes a while
        yield LiveServer(url, log)
    finally:
        for process in (api, worker):
            process.terminate()
        for process in (api, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-4000:]
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the app did not answer within {START_TIMEOUT}s:\n{log.read_text()[-4000:]}")


@pytest.fixture
def page(browser: Browser, queued_server: LiveServer, problems: PageProblems) -> Iterator[Page]:
    context, page = open_page(browser, problems)
    try:
        yield page
    finally:
        context.close()
    problems.assert_none()


def test_a_chat_grade_recorded_by_the_worker_is_pushed_to_the_player(
    page: Page, queued_server: LiveServer, fake_llm: FakeLlmServer, challenge: Challenge
) -> None:
    expect.set_options(timeout=30_000)
    register(page, queued_server.url, name="Grace Hopper")
    start_challenge(page, challenge.title)
    chat = play_to(page, challenge.steps, stop_before="chat")
    session_id = page.url.rsplit("/", 1)[-1]
    gate = threading.Event()
    fake_llm.grading_gate = gate
    reads: list[str] = []
    feedbacks = page.locator(".transcript .entry-feedback")
    before = feedbacks.count()

    def on_request(request: Request) -> None:
        if request.method == "GET" and request.url.endswith(f"/api/sessions/{session_id}"):
            reads.append(request.url)

    try:
        answer_correctly(page, chat)
        # The answer came back at once: the step waits for its grade, which the worker holds.
        expect(page.locator(".step-card")).to_contain_text("Grading your answer")
        expect(page.locator(".transcript .entry-answer").last).to_be_visible()
        page.on("request", on_request)
        assert fake_llm.grading_gate is gate and feedbacks.count() == before
    finally:
        gate.set()
        fake_llm.grading_gate = None
    expect(feedbacks).to_have_count(before + 1, timeout=60_000)
    expect(feedbacks.last).to_contain_text(re.compile(rf"/ {chat['points']} points"))
    expect(page.locator(".step-card")).not_to_contain_text("Grading your answer")
    assert reads == [], f"the player polled instead of waiting for the push: {reads}"
