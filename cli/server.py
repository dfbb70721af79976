"""``curiouscore serve`` and ``curiouscore up``: the web API and the SPA through uvicorn."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import webbrowser
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from core.bootstrap import ConfigurationError
from core.config import Settings
from core.service.heap import prepare_collector_for_serving
from core.store.base import StoreUnavailable

if TYPE_CHECKING:
    from api.app import BackgroundJob

Mount = tuple[str, Any]  # a path prefix and the ASGI app served under it

# uvicorn's options for every worker. Its loop and HTTP parser stay "auto": uvloop and httptools
# (uvicorn[standard]) when installed. The app reads X-Forwarded-* itself, from
# FORWARDED_ALLOW_IPS only (api/proxy.py); uvicorn's own handling would trust 127.0.0.1 by default.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
}

console = Console()
err = Console(stderr=True)

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on (default: HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (default: PORT).")]
DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Overrides DATABASE_URL.")
]


WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Worker processes, each with its own socket on the port (default: WEB_CONCURRENCY).",
    ),
]


def serve(
    host: HostOption = None,
    port: PortOption = None,
    database_url: DatabaseOption = None,
    workers: WorkersOption = None,
) -> None:
    """Serve the web API (/api, /docs, /health, /metrics) and the SPA at /.

    With Slack settings for HTTP mode, also serves the Slack bot at /slack/events. With several
    workers the catalogue is seeded once, then each worker listens on the port with SO_REUSEPORT.
    """
    settings = _settings(host, port, database_url)
    count = workers or settings.web_concurrency
    if count > 1:
        from cli.server_workers import run_workers

        run_workers(settings.model_copy(update={"web_concurrency": count}), count)
        return
    mounts: list[Mount] = []
    run_server(settings, background=slack_jobs(settings, mounts, socket_mode=False), mounts=mounts)


def up(
    host: HostOption = None,
    port: PortOption = None,
    database_url: DatabaseOption = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the web app in a browser once up.")
    ] = False,
) -> None:
    """Serve API + SPA on the defaults: migrates, seeds on first run, starts bots with tokens."""
    from core.store.migrate import migrate

    settings = _settings(host, port, database_url)
    try:
        asyncio.run(migrate(settings.database_url))
    except StoreUnavailable as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    mounts: list[Mount] = []
    run_server(
        settings, background=bot_jobs(settings, mounts), mounts=mounts, open_browser=open_browser
    )


def bot_jobs(settings: Settings, mounts: list[Mount] | None = None) -> list[BackgroundJob]:
    """The chat bots to run beside the API: one job per platform whose token is set.

    This is the hook for the bots: each adapter contributes ``async def run(services)`` here, and
    ``up`` runs it inside the API's event loop until shutdown.
    """
    jobs: list[BackgroundJob] = slack_jobs(settings, mounts if mounts is not None else [])
    if settings.discord_token is not None:
        try:
            from bots.discord.runner import run as run_discord
        except ImportError as error:
            err.print(
                f"DISCORD_TOKEN set, but the discord extra is not installed ({error.name}); "
                "run: pip install -e '.[discord]'. Skipping the Discord bot."
            )
        else:
            jobs.append(run_discord)
    return jobs


def slack_jobs(
    settings: Settings, mounts: list[Mount], *, socket_mode: bool = True
) -> list[BackgroundJob]:
    """The Slack bot beside the API when its settings are there; in HTTP mode its ``/slack``
    routes (events, install, OAuth redirect) are added to ``mounts``."""
    if settings.slack_bot_token is None and settings.slack_client_id is None:
        return []
    try:
        from bots.slack.runner import server_hooks
        from bots.slack.runner import socket_mode as uses_socket_mode
    except ImportError as error:
        err.print(f"Slack settings found, but the slack extra is not installed ({error.name}).")
        return []
    if uses_socket_mode(settings) and not socket_mode:
        return []
    try:
        job, endpoint = server_hooks(settings)
    except ConfigurationError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    if endpoint is not None:
        mounts.append(("/slack", endpoint))
    return [job]


def run_server(
    settings: Settings,
    *,
    background: list[BackgroundJob] | None = None,
    mounts: list[Mount] | None = None,
    open_browser: bool = False,
) -> None:
    try:
        import uvicorn

        from api.app import create_app
    except ImportError as error:
        err.print(
            f"[red]error:[/red] the web extra is not installed ({error.name}); "
            "run: pip install -e '.[api]'",
            highlight=False,
        )
        raise typer.Exit(2) from None
    try:
        app = create_app(settings=settings, background=background or (), mounts=mounts or ())
    except ConfigurationError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    url = f"http://{_display_host(settings.host)}:{settings.port}/"
    console.print(f"CuriousCore is starting at {url} (Ctrl+C to stop)")
    if open_browser:
        threading.Thread(target=_open_when_up, args=(settings, url), daemon=True).start()
    prepare_collector_for_serving()  # see core/service/heap.py
    uvicorn.run(app, host=settings.host, port=settings.port, **UVICORN_OPTIONS)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``up`` to the ``curiouscore`` command."""
    app.command()(serve)
    app.command()(up)


def _settings(host: str | None, port: int | None, database_url: str | None) -> Settings:
    settings = Settings()
    changes: dict[str, object] = {}
    if host:
        changes["host"] = host
    if port:
        changes["port"] = port
    if database_url:
        changes["database_url"] = database_url
    return settings.model_copy(update=changes) if changes else settings


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def _open_when_up(settings: Settings, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((_display_host(settings.host), settings.port), 0.5):
                webbrowser.open(url)
                return
        except OSError:
            time.sleep(0.3)
