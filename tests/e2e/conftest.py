"""The SPA end to end: the real app under uvicorn, driven by Debian's Chromium through Playwright.

The browser tests fail (never skip) when Chromium is missing, unless CURIOUSCORE_SKIP_BROWSER=1.
Set CURIOUSCORE_E2E_SCREENSHOTS=DIR to keep screenshots of the main screens.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    expect,
    sync_playwright,
)

from core.bootstrap import build_services
from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
CHALLENGE_FILE = ROOT / "challenges" / "python-functions.yaml"
ADMIN = ("admin@example.com", "admin-pass-8412", "Ada Admin")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
START_TIMEOUT = 30.0


def _chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    candidates = [configured] if configured else []
    candidates += ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium_path()
    if path is None:
        if os.environ.get("CURIOUSCORE_SKIP_BROWSER") == "1":
            pytest.skip("CURIOUSCORE_SKIP_BROWSER=1 and Chromium is not installed")
        pytest.fail(
            "Chromium is needed for the browser tests: `apt-get install chromium` (or set "
            "CHROMIUM_PATH), or set CURIOUSCORE_SKIP_BROWSER=1 to skip them"
        )
    return path


@dataclass(frozen=True)
class Challenge:
    """The shipped challenge the tests play, with its right answers read from the YAML."""

    id: str
    title: str
    steps: list[dict[str, object]] = field(default_factory=list)

    def step(self, kind: str) -> dict[str, object]:
        return next(s for s in self.steps if s["type"] == kind)


@pytest.fixture(scope="session")
def challenge() -> Challenge:
    data = yaml.safe_load(CHALLENGE_FILE.read_text(encoding="utf-8"))
    kinds = {step["type"] for step in data["steps"]}
    assert kinds >= {"gate", "mcq", "multi", "true_false", "chat", "code"}, (
        "the e2e challenge must cover every step type"
    )
    return Challenge(data["id"], data["title"], data["steps"])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _create_admin(database_url: str) -> None:
    services = await build_services(Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]
    try:
        await services.accounts.create_admin(*ADMIN)
    finally:
        await services.close()


@dataclass(frozen=True)
class LiveServer:
    url: str
    log: Path
    database_url: str = ""

    def promote(self, email: str, role: str) -> None:
        """Give the account ``role`` straight in the app's database (as `curiouscore` would)."""

        async def run() -> None:
            services = await build_services(
                Settings(database_url=self.database_url, _env_file=None)  # type: ignore[call-arg]
            )
            try:
                await services.accounts.promote(email, role)
            finally:
                await services.close()

        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def live_server(
    chromium_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real app (``api.app:create_app``) on a free loopback port, a fresh SQLite database."""
    workdir = tmp_path_factory.mktemp("e2e-app")
    database_url = f"sqlite+aiosqlite:///{workdir / 'e2e.db'}"
    # Its own thread: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _create_admin(database_url)).result()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENV": "test",
        "SECRET_KEY": secrets.token_hex(32),
        "LLM_PROVIDER": "offline",
        "CHALLENGES_DIR": str(ROOT / "challenges"),
        "LOGIN_RATE_LIMIT_PER_MINUTE": "1000",
        "REGISTER_RATE_LIMIT_PER_HOUR": "1000",
        "LOG_LEVEL": "WARNING",
        "REVIEW_SAMPLE_RATE": "1.0",  # every chat grade reaches the review queue (issue 14)
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=workdir,
            env={
                **env,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield LiveServer(url, log, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the app exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"the app did not answer /health within {START_TIMEOUT}s:\n{log.read_text(errors='replace')[-4000:]}"
    )


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is
    # open, which would break the async tests collected after these modules.
    with sync_playwright() as playwright:
        # launch() gives Chromium a fresh temporary profile directory (removed on close), and
        # every test gets its own context: no cookies or storage leak between tests or runs.
        instance = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@dataclass
class PageProblems:
    """What a page must never do: open a dialog, throw, or break the Content-Security-Policy."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.errors == [], f"uncaught errors in the page: {self.errors}"
        assert self.csp == [], f"Content-Security-Policy violations: {self.csp}"


def open_page(
    browser: Browser,
    problems: PageProblems,
    *,
    width: int = 1280,
    height: int = 860,
    mobile: bool = False,
) -> tuple[BrowserContext, Page]:
    """A page in a fresh context that records into ``problems`` what it must never do."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=mobile,
        has_touch=mobile,
        reduced_motion="reduce",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()

    def on_dialog(dialog: Dialog) -> None:
        problems.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            problems.csp.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.errors.append(str(error)))
    return context, page


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, problems: PageProblems) -> Iterator[Page]:
    """A desktop-sized page; the test fails if the page opened a dialog, threw, or broke the CSP."""
    expect.set_options(timeout=15_000)
    context, page = open_page(browser, problems)
    try:
        yield page
    finally:
        context.close()
    problems.assert_none()


@pytest.fixture
def screenshot_dir() -> Path | None:
    configured = os.environ.get("CURIOUSCORE_E2E_SCREENSHOTS")
    if not configured:
        return None
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    return path
