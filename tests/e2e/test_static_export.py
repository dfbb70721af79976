"""The SPA exported for a static host (``curiouscore web export``), served from another origin
(a second port on 127.0.0.1) by a plain static file server, plays a step against the API through
CORS under the export's own Content-Security-Policy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Request, expect

from api.static_export import export_spa
from tests.e2e.conftest import (
    ROOT,
    Challenge,
    PageProblems,
    _free_port,
    _wait_until_up,
    open_page,
)
from tests.e2e.spa import answer_correctly, expect_step, register, start_challenge

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class SplitSite:
    site: str  # where the exported SPA is served
    api: str  # where the API is


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_site(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the static file server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/index.html", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the static file server did not answer at {url} within 20s")


@pytest.fixture(scope="module")
def split_site(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SplitSite]:
    workdir = tmp_path_factory.mktemp("static-export")
    site_port, api_port = _free_port(), _free_port()
    site, api = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{api_port}"
    export_spa(workdir / "site", api)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'api.db'}",
        "ENV": "test",
        "SECRET_KEY": secrets.token_hex(32),
        "LLM_PROVIDER": "offline",
        "CHALLENGES_DIR": str(ROOT / "challenges"),
        "CORS_ORIGINS": site,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    api_log = workdir / "api.log"
    with api_log.open("wb") as out:
        api_process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--host", "127.0.0.1", "--port", str(api_port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    # A plain static file server: no API, no CORS, no headers of ours.
    static_process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(site_port), "--bind", "127.0.0.1"],
        cwd=workdir / "site",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(api, api_process, api_log)
        _wait_for_site(site, static_process)
        yield SplitSite(site, api)
    finally:
        _stop(static_process)
        _stop(api_process)


def test_the_exported_spa_on_another_origin_plays_a_step_against_the_api(
    browser: Browser, split_site: SplitSite, challenge: Challenge
) -> None:
    assert httpx.get(f"{split_site.site}/api/challenges", timeout=5).status_code == 404
    problems = PageProblems()
    context, page = open_page(browser, problems)
    api_calls: list[str] = []

    def record(request: Request) -> None:
        if "/api/" in request.url:
            api_calls.append(request.url)

    page.on("request", record)
    try:
        register(page, split_site.site, name="Static Sam")
        assert page.evaluate("() => location.origin") == split_site.site
        start_challenge(page, challenge.title)
        gate, mcq = challenge.step("gate"), challenge.step("mcq")
        expect_step(page, gate)
        answer_correctly(page, gate)
        expect_step(page, mcq)
        answer_correctly(page, mcq)
        feedback = page.locator(".transcript .entry-feedback").last
        expect(feedback).to_contain_text(f"{mcq['points']} / {mcq['points']} points")
    finally:
        context.close()
    problems.assert_none()
    assert api_calls, "the SPA made no API call"
    assert all(url.startswith(f"{split_site.api}/api/") for url in api_calls), api_calls
    assert any(url.endswith("/answer") for url in api_calls), api_calls
