"""``curiouscore serve --workers N``: N uvicorn worker processes, each listening on the port with
its own socket (``SO_REUSEPORT``), so the kernel spreads new connections evenly across them.

uvicorn's own ``--workers`` shares one listening socket: whichever worker wakes first accepts, and
a burst of connections (50 browsers at once) can land mostly on one worker, which then does most
of the work while the other idles; measured with 50 keep-alive clients on 2 cores, a 68/32 % split
of the server's CPU (benchmarks/README.md, "Session 4, scale-out"). With ``SO_REUSEPORT`` the
kernel hashes each new connection to one of the listening sockets.

The parent seeds the catalogue once (workers never race to seed), forwards SIGINT/SIGTERM as a
graceful stop, and starts a new worker when one dies; a worker that cannot start stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import typer
from rich.console import Console

from core.bootstrap import ConfigurationError
from core.config import Settings
from core.process_lease import FIX, needs_lease
from core.service.heap import prepare_collector_for_serving
from core.store.base import StoreUnavailable

STARTUP_FAILURE = 3  # a worker's exit code when it could not start (as uvicorn's)
STOP_SECONDS = 30.0  # a graceful stop's limit before the workers are killed
RESTART_PAUSE_SECONDS = 1.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

console = Console()
err = Console(stderr=True)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` with ``SO_REUSEPORT``: every worker binds its own
    and the kernel balances connections across them (uvicorn calls ``listen``)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def run_workers(settings: Settings, count: int) -> None:
    """Serve with ``count`` worker processes until SIGINT/SIGTERM (see the module)."""
    if not sys.platform.startswith("linux"):
        # Elsewhere SO_REUSEPORT does not balance (or is missing): uvicorn's shared socket.
        err.print(
            "[red]error:[/red] --workers above 1 needs Linux's SO_REUSEPORT; run "
            f"`uvicorn --factory api.app:create_app --workers {count}` instead",
            highlight=False,
        )
        raise typer.Exit(2)
    if needs_lease(settings, calls_llm=settings.pending_work == "inline"):
        err.print(
            f"[red]error:[/red] {count} workers without REDIS_URL would give each its own LLM "
            f"rate limit and budget: {FIX}",
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        asyncio.run(_seed_once(settings))
    except (ConfigurationError, StoreUnavailable) as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    _supervise(settings, count)


async def _seed_once(settings: Settings) -> None:
    """Migrate SQLite / seed an empty catalogue here, before any worker exists to race for it."""
    from core.bootstrap import build_services
    from seeds import ensure_seeded

    services = await build_services(settings)
    try:
        await ensure_seeded(services)
    finally:
        await services.close()


def _supervise(settings: Settings, count: int) -> None:
    # fork: the workers share the modules imported here instead of importing them again.
    import uvicorn  # noqa: F401

    from api.app import create_app  # noqa: F401

    context = multiprocessing.get_context("fork")
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def start() -> BaseProcess:
        process = context.Process(
            target=_serve_one, args=(settings, os.getpid()), name="curiouscore-worker"
        )
        process.start()
        return process

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers = [start() for _ in range(count)]
    failed = False
    console.print(
        f"CuriousCore is starting at http://{settings.host}:{settings.port}/ with {count} "
        "workers (Ctrl+C to stop)",
        highlight=False,
    )
    try:
        while not stopping:
            wait([worker.sentinel for worker in workers], timeout=0.5)
            for index, worker in enumerate(workers):
                if worker.exitcode is None or stopping:
                    continue
                if worker.exitcode == STARTUP_FAILURE:
                    err.print(f"[red]error:[/red] worker {worker.pid} could not start; stopping")
                    stopping = failed = True
                    break
                err.print(f"worker {worker.pid} exited ({worker.exitcode}); starting another")
                time.sleep(RESTART_PAUSE_SECONDS)
                workers[index] = start()
    finally:
        _stop(workers)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise typer.Exit(2)


def _stop(workers: list[BaseProcess]) -> None:
    """SIGTERM (uvicorn's graceful stop; a second SIGINT would force it), then SIGKILL."""
    for worker in workers:
        if worker.exitcode is None and worker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.exitcode is None:
            worker.kill()
            worker.join()


def _stop_with_parent(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when the supervisor dies, even by SIGKILL, so no
    worker is left serving on its own (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _serve_one(settings: Settings, parent: int) -> None:
    """One worker: the app, on a socket of its own; exits with STARTUP_FAILURE if it cannot."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _stop_with_parent(parent)
    import uvicorn

    from api.app import create_app
    from cli.server import UVICORN_OPTIONS, Mount, slack_jobs

    mounts: list[Mount] = []
    try:
        background = slack_jobs(settings, mounts, socket_mode=False)
        app = create_app(settings=settings, background=background, mounts=mounts)
        sock = listening_socket(settings.host, settings.port)
    except (ConfigurationError, OSError, typer.Exit) as error:
        if not isinstance(error, typer.Exit):
            err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.port, **UVICORN_OPTIONS)
    )
    prepare_collector_for_serving()  # see core/service/heap.py
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
