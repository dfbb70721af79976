"""HTTP load benchmark: N concurrent learners play a challenge's choice steps through the API.

The server runs as a subprocess (``curiouscore serve``, one uvicorn worker; ``--workers N`` seeds
once, then runs ``uvicorn --workers N`` as docs/deploy.md does) on a free loopback port; this process is the load generator. Each learner registers, then per round creates a
session, starts it, and for every step reads the state (GET) and answers it (gates: continue;
mcq / multi / true_false: the right answer) until the first chat step, where the round ends. Then
the same server's throughput on ``/livez`` (no database, no auth) gives the ceiling.

Run: ``.venv/bin/python -m benchmarks.bench_api [--learners 50] [--rounds 3] [--backend both]``.

``--side-by-side`` runs the comparison of issue 17 instead: for each ``--learners`` count (e.g.
``50,500``) the ceiling (a bare FastAPI app with one pydantic-validated POST, same uvicorn), then this
project on SQLite, on PostgreSQL, and on PostgreSQL + Redis with 1 and 2 uvicorn workers, every
learner playing create → start → continue → wrong answer → right answer → read state per round
(``--flow issue``). It prints requests/s, errors, p99 create / answer / state and the share of the
ceiling for each system.
Bounded: N learners × R rounds, a hard time limit, loopback only. PostgreSQL runs use their own
database (``BENCH_API_DATABASE_URL``, default ``…/curiouscore_bench_api``, created if missing and
emptied before the run), never the test database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks import cpu_accounting, cpu_cap
from benchmarks.bench_core import ensure_database
from benchmarks.cpu_accounting import CpuUse
from benchmarks.cpu_cap import CpuCap
from core.content import load_challenge_file
from core.store.engine import create_store_engine
from core.store.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
CHALLENGE = "python-functions"
PASSWORD = "benchmark passphrase"
TARGETS_MS = {"create": 100.0, "answer (mcq)": 200.0, "state": 200.0}
ISSUE_TARGETS_MS = {"create": 100.0, "answer": 100.0, "state": 50.0}  # issue 17, at saturation
TIME_LIMIT_SECONDS = 600


class ConnectionClosed(Exception):
    """The server closed the keep-alive connection before answering."""


class Connection:
    """A minimal HTTP/1.1 keep-alive client: one per simulated learner, like a browser tab.

    httpx's pool costs more CPU per request than the server under test on a 2-core machine, so the
    generator speaks HTTP itself and measures the server rather than its own overhead.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        try:
            return await self._exchange(method, path, body, headers)
        except (ConnectionClosed, ConnectionError, asyncio.IncompleteReadError):
            # uvicorn closes connections idle for 5 s (a reset when the request raced the close):
            # reconnect once and send again. A second failure is the caller's to count.
            await self.close()
            return await self._exchange(method, path, body, headers)

    async def _exchange(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None
    ) -> tuple[int, Any]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionClosed
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            data = b""
            while size := int((await self._reader.readline()).strip(), 16):
                data += await self._reader.readexactly(size + 2)
            await self._reader.readline()
        else:
            data = await self._reader.readexactly(length)
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        """Close the connection; one the server already reset or closed is just forgotten."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), 5)


@dataclass
class Samples:
    by_endpoint: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    # The creates of each learner's first round (also in ``by_endpoint["create"]``): the opening
    # burst, every learner's first request at the same instant on a new connection.
    first_creates: list[float] = field(default_factory=list)

    async def call(
        self,
        connection: Connection,
        label: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        started = time.perf_counter()
        try:
            status, data = await connection.request(method, path, body, headers)
        except (
            OSError,
            EOFError,
            asyncio.IncompleteReadError,
            ConnectionClosed,
            ValueError,
            IndexError,
        ):
            # Refused, reset twice or a garbled answer: an error of this benchmark, not a crash.
            await connection.close()
            self.errors[f"{label} connection"] += 1
            return None
        self.by_endpoint[label].append((time.perf_counter() - started) * 1000)
        if status >= 400:
            self.errors[f"{label} {status}"] += 1
        return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def right_answers() -> dict[str, object]:
    """Step id -> the right answer, for every choice step of the benchmark challenge."""
    answers: dict[str, object] = {}
    for step in load_challenge_file(ROOT / "challenges" / f"{CHALLENGE}.yaml").steps:
        if step.type == "mcq":
            answers[step.id] = next(i for i, c in enumerate(step.choices) if c.correct)
        elif step.type == "multi":
            answers[step.id] = [i for i, c in enumerate(step.choices) if c.correct]
        elif step.type == "true_false":
            answers[step.id] = step.answer
    return answers


async def sign_up(connection: Connection, index: int, samples: Samples) -> dict[str, str]:
    body = {
        "email": f"learner{index}-{secrets.token_hex(4)}@bench.example",
        "password": PASSWORD,
        "display_name": f"Learner {index}",
    }
    for _ in range(5):  # a sign-up refused under load (e.g. 503) is counted, then retried
        pair = await samples.call(connection, "register", "POST", "/api/auth/register", body)
        if isinstance(pair, dict) and "access_token" in pair:
            return {"Authorization": f"Bearer {pair['access_token']}"}
        await asyncio.sleep(1)
    raise RuntimeError(f"learner {index} could not sign up: {pair}")


async def sign_everyone_up(connections: list[Connection], samples: Samples) -> list[dict[str, str]]:
    """Sign a learner up on each connection at once (untimed: argon2id is slow on purpose);
    return their auth headers, in the connections' order."""
    return await asyncio.wait_for(
        asyncio.gather(*(sign_up(c, i, samples) for i, c in enumerate(connections))),
        TIME_LIMIT_SECONDS,
    )


async def learner(
    connection: Connection,
    headers: dict[str, str],
    rounds: int,
    answers: dict[str, object],
    samples: Samples,
    think_ms: float,
    flow: str = "steps",
) -> None:
    async def call(*args: Any) -> Any:
        if think_ms:  # a person reads and clicks: 0.5 to 1.5 times the mean think time
            await asyncio.sleep(think_ms * random.uniform(0.5, 1.5) / 1000)
        return await samples.call(*args)

    for round_number in range(rounds):
        creates = len(samples.by_endpoint["create"])
        created = await call(
            connection, "create", "POST", "/api/sessions", {"challenge_id": CHALLENGE}, headers
        )
        if round_number == 0 and len(samples.by_endpoint["create"]) > creates:
            samples.first_creates.append(samples.by_endpoint["create"][-1])
        if not isinstance(created, dict) or "session_id" not in created:
            continue  # refused (counted as an error): the next round tries again
        path = f"/api/sessions/{created['session_id']}"
        view = await call(connection, "start", "POST", f"{path}/start", None, headers)
        if flow == "issue":
            await _issue_round(call, connection, path, view, headers, answers)
            continue
        while isinstance(view, dict) and view.get("step"):
            view = await call(connection, "state", "GET", path, None, headers)
            step = view.get("step") if isinstance(view, dict) else None
            if not step:
                break
            if step["kind"] == "gate":
                body: dict[str, Any] = {"step_id": step["id"]}
                view = await call(connection, "continue", "POST", f"{path}/continue", body, headers)
            elif step["kind"] in ("mcq", "multi", "true_false"):
                body = {"step_id": step["id"], "answer": answers[step["id"]]}
                keyed = {**headers, "Idempotency-Key": secrets.token_hex(8)}
                label = f"answer ({step['kind']})"
                view = await call(connection, label, "POST", f"{path}/answer", body, keyed)
            else:
                break  # the first chat step ends the round: choice steps only


async def _issue_round(
    call: Any,
    connection: Connection,
    path: str,
    view: Any,
    headers: dict[str, str],
    answers: dict[str, object],
) -> None:
    """Issue 17's round after create and start: continue through the gates, answer the first
    choice step wrongly then rightly, read the state."""
    step = (view if isinstance(view, dict) else {}).get("step") or {}
    while step.get("kind") == "gate":
        body: dict[str, Any] = {"step_id": step["id"]}
        view = await call(connection, "continue", "POST", f"{path}/continue", body, headers)
        step = (view if isinstance(view, dict) else {}).get("step") or {}
    if step.get("kind") == "mcq":
        right = answers[step["id"]]
        wrong = next(i for i in range(len(step["choices"])) if i != right)
        for answer in (wrong, right):
            keyed = {**headers, "Idempotency-Key": secrets.token_hex(8)}
            body = {"step_id": step["id"], "answer": answer}
            await call(connection, "answer", "POST", f"{path}/answer", body, keyed)
    await call(connection, "state", "GET", path, None, headers)


async def ceiling(connections: list[Connection], per_worker: int, samples: Samples) -> float:
    async def worker(connection: Connection) -> None:
        for _ in range(per_worker):
            await samples.call(connection, "no-op (/livez)", "GET", "/livez")

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    return time.perf_counter() - started


class CeilingIn(BaseModel):
    """The ceiling's request body: validated like the project's create-session body."""

    challenge_id: str = Field(min_length=1, max_length=128)


def ceiling_app() -> FastAPI:
    """The ceiling: bare FastAPI with one validated POST (``uvicorn --factory`` target)."""
    app = FastAPI()

    @app.post("/ceiling")
    async def echo(body: CeilingIn) -> dict[str, str]:
        return {"challenge_id": body.challenge_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def start_ceiling(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start the bare FastAPI app with the same uvicorn options as ``curiouscore serve``."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "benchmarks.bench_api:ceiling_app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--no-server-header", "--no-proxy-headers", "--app-dir", str(ROOT),
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return server, _wait_healthy(server, port)


def start_server(
    database_url: str,
    workdir: Path,
    log_level: str,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    multi_worker: str = "serve",
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the project's server; several workers through ``curiouscore serve --workers`` or,
    with ``multi_worker="uvicorn"``, uvicorn's own ``--workers`` (one shared listening socket)."""
    port = free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "DATABASE_URL": database_url,
        "ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": log_level,
        "REGISTER_RATE_LIMIT_PER_HOUR": "100000",
        "LOGIN_RATE_LIMIT_PER_MINUTE": "100000",
    }
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1 and multi_worker == "serve":
        # `curiouscore serve --workers N`: seeds once, one SO_REUSEPORT socket per worker.
        command += ["--workers", str(workers)]
    elif workers > 1:
        # As in production (docs/deploy.md): seed once, then workers that never migrate or race.
        subprocess.run(
            [sys.executable, "-m", "cli", "seed"],
            env=env,
            cwd=workdir,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--no-server-header", "--no-proxy-headers", "--app-dir", str(ROOT),
        ]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # serve --workers: every worker listens on a socket of its own once its startup is done.
    listeners = workers if workers > 1 and multi_worker == "serve" else 0
    return server, _wait_healthy(server, port, listeners)


def _wait_healthy(server: subprocess.Popen[bytes], port: int, listeners: int = 0) -> int:
    """Wait for ``/health``, and for ``listeners`` listening sockets on the port when given."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            healthy = httpx.get(f"{base}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            healthy = False
        if healthy and cpu_accounting.listening_sockets(server.pid, port) >= listeners:
            return port
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not answer /health within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


async def reset_postgres(url: str) -> None:
    await ensure_database(url)
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    await migrate(url)


async def prefill(url: str, events: int) -> None:
    """Put ``events`` filler events (20 per session) in the log first: the "big table" case."""
    started = time.perf_counter()
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO game_events (session_id, sequence_number, event_type, "
                    "schema_version, data, recorded_at) SELECT 'prefill-' || (g / 20), "
                    "(g % 20) + 1, 'Prefilled', 1, :data, '2026-01-01T00:00:00.000+00:00' "
                    "FROM generate_series(0, :n - 1) AS g"
                ),
                {"n": events, "data": '{"n":1}'},
            )
            await connection.execute(text("ANALYZE game_events"))
    finally:
        await engine.dispose()
    print(f"prefilled {events} events in {time.perf_counter() - started:.1f} s")


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def report(label: str, samples: Samples, play_seconds: float, ceiling_seconds: float) -> None:
    print(f"\n## {label}\n")
    print("| endpoint | requests | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    total = 0
    for endpoint, values in samples.by_endpoint.items():
        if endpoint.startswith("no-op"):
            continue
        if endpoint != "register":
            total += len(values)
        print(
            f"| {endpoint} | {len(values)} | {percentile(values, 50):.1f} | "
            f"{percentile(values, 95):.1f} | {percentile(values, 99):.1f} | {max(values):.1f} |"
        )
    noop = samples.by_endpoint["no-op (/livez)"]
    print(
        f"| no-op (/livez) | {len(noop)} | {percentile(noop, 50):.1f} | {percentile(noop, 95):.1f} | "
        f"{percentile(noop, 99):.1f} | {max(noop):.1f} |"
    )
    print(
        f"\nplay (after sign-up): {total} requests in {play_seconds:.1f} s = {total / play_seconds:.0f} requests/s"
    )
    print(
        f"ceiling: {len(noop)} no-op requests in {ceiling_seconds:.1f} s = {len(noop) / ceiling_seconds:.0f} requests/s"
    )
    if samples.errors:
        print(f"errors: {dict(samples.errors)}")
    targets = ISSUE_TARGETS_MS if "answer" in samples.by_endpoint else TARGETS_MS
    for endpoint, target in targets.items():
        p99 = percentile(samples.by_endpoint[endpoint], 99)
        verdict = "holds" if p99 < target else "MISSED"
        print(f"target {endpoint} p99 < {target:.0f} ms: {p99:.1f} ms, {verdict}")


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No pause of this process's cyclic garbage collector while it times requests.

    The load generator keeps every sample, and the systems run before build its heap up, so a
    full collection came due at a point fixed by the order of the systems: with ``ceiling,sqlite,
    postgres`` always inside PostgreSQL's opening burst, whose first-round creates then read p50
    89-111 ms against 36-46 ms in any other order or with the collector off (every in-flight
    request waited for it). Collected before and after instead; nothing made meanwhile needs it
    (reference counting frees the requests' objects)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def _everyone_plays(
    connections: list[Connection],
    everyone: list[dict[str, str]],
    args: argparse.Namespace,
    answers: dict[str, object],
    samples: Samples,
) -> None:
    """Every signed-up learner plays ``args.rounds`` rounds at once (bounded by the time limit)."""
    with collector_paused():
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    learner(c, h, args.rounds, answers, samples, args.think_ms, args.flow)
                    for c, h in zip(connections, everyone, strict=True)
                )
            ),
            TIME_LIMIT_SECONDS,
        )


async def run_backend(label: str, database_url: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="cc-bench-api-") as workdir:
        if database_url.startswith("postgresql"):
            await reset_postgres(database_url)
            if args.prefill_events:
                await prefill(database_url, args.prefill_events)
        elif database_url == "sqlite":
            database_url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        server, port = start_server(database_url, Path(workdir), args.log_level, args.workers)
        connections = [Connection("127.0.0.1", port) for _ in range(args.learners)]
        try:
            samples = Samples()
            answers = right_answers()
            # Sign-ups first (argon2id is meant to be slow), then everyone plays at once.
            everyone = await sign_everyone_up(connections, samples)
            started = time.perf_counter()
            await _everyone_plays(connections, everyone, args, answers, samples)
            play_seconds = time.perf_counter() - started
            ceiling_seconds = await asyncio.wait_for(
                ceiling(connections, args.noop_per_learner, samples), TIME_LIMIT_SECONDS
            )
            report(label, samples, play_seconds, ceiling_seconds)
        finally:
            for connection in connections:
                await connection.close()
            stop_server(server)


@dataclass
class Figures:
    """One line of the side-by-side table."""

    system: str
    learners: int
    workers: int
    requests: int
    seconds: float
    errors: int
    p99: dict[str, float] = field(default_factory=dict)
    cpu_ms: float | None = None  # the server's CPU time (all its processes) per request
    use: CpuUse | None = None  # where the play phase's CPU went (server, generator, PostgreSQL)
    connections_opened: int | None = None  # PostgreSQL sessions opened during the play phase
    # The first round's creates (p50, max) and the later rounds' creates (p99), ms.
    create_rounds: tuple[float, float, float] | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _play(
    port: int,
    args: argparse.Namespace,
    learners: int,
    profile: contextlib.AbstractContextManager[Any] | None = None,
    server_pid: int | None = None,
    cpu: list[CpuUse] | None = None,
    database_url: str | None = None,
    opened: list[int] | None = None,
) -> tuple[Samples, float]:
    """Sign ``learners`` up (untimed), then have them all play at once (inside ``profile``);
    return the samples and the play time. ``cpu`` receives where the play phase's CPU went and
    ``opened`` how many connections PostgreSQL (``database_url``) opened meanwhile."""
    connections = [Connection("127.0.0.1", port) for _ in range(learners)]
    try:
        samples = Samples()
        answers = right_answers()
        # Sign-up is untimed and slow on purpose (argon2id): at most --accounts accounts, shared
        # round-robin (a learner may play several sessions at once), then everyone plays.
        accounts = connections[: args.accounts]
        signed = await sign_everyone_up(accounts, samples)
        everyone = [signed[i % len(signed)] for i in range(learners)]
        samples.by_endpoint.pop("register", None)
        # Every learner connects when play starts, like a burst of browsers, so how the clients
        # spread over several workers does not depend on which sign-up connections the server
        # closed for idling (5 s) meanwhile.
        for connection in connections:
            await connection.close()
        database = make_url(database_url).database if database_url else None
        async with _postgres_sessions(database_url) as sessions_opened:
            with profile or contextlib.nullcontext():
                opened_before = await sessions_opened()
                before = cpu_accounting.sample(server_pid, database)
                spread = asyncio.create_task(_clients_per_worker(server_pid, port))
                started = time.perf_counter()
                await _everyone_plays(connections, everyone, args, answers, samples)
                seconds = time.perf_counter() - started
                after = cpu_accounting.sample(server_pid, database)
                if cpu is not None:
                    cpu.append(cpu_accounting.between(before, after))
                    cpu[-1].connections = await spread
                if opened is not None and (database_url or "").startswith("postgresql"):
                    opened.append(await sessions_opened() - opened_before)
        return samples, seconds
    finally:
        for connection in connections:
            await connection.close()


async def _clients_per_worker(server_pid: int | None, port: int) -> list[int]:
    """The clients each server process holds one second into the play phase (every learner has
    connected by then; at the end, learners done early have been closed for idling)."""
    if server_pid is None:
        return []
    await asyncio.sleep(1)
    return cpu_accounting.connections_by_worker(server_pid, port)


@contextlib.asynccontextmanager
async def _postgres_sessions(database_url: str | None) -> Any:
    """Yield a coroutine function giving the sessions PostgreSQL has opened so far for the
    database (``pg_stat_database.sessions``, PostgreSQL 14+; 0 without PostgreSQL). One
    connection is held open meanwhile, so asking costs no connection of its own."""
    if not database_url or not database_url.startswith("postgresql"):

        async def nothing() -> int:
            return 0

        yield nothing
        return
    engine = create_store_engine(database_url, pooled=False)
    try:
        async with engine.connect() as connection:
            query = text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")

            async def opened() -> int:
                value = (await connection.execute(query)).scalar()
                await connection.commit()  # a fresh snapshot of the statistics next time
                return int(value or 0)

            yield opened
    finally:
        await engine.dispose()


async def _ceiling_figures(port: int, learners: int, per_learner: int) -> Figures:
    connections = [Connection("127.0.0.1", port) for _ in range(learners)]
    samples = Samples()

    async def worker(connection: Connection) -> None:
        for _ in range(per_learner):
            body = {"challenge_id": CHALLENGE}
            await samples.call(connection, "ceiling", "POST", "/ceiling", body)

    try:
        with collector_paused():
            started = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(*(worker(c) for c in connections)), TIME_LIMIT_SECONDS
            )
            seconds = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    total = len(samples.by_endpoint["ceiling"])
    return Figures(
        "bare FastAPI validated POST (the ceiling)",
        learners,
        1,
        total,
        seconds,
        sum(samples.errors.values()),
    )


def _figures(system: str, learners: int, workers: int, samples: Samples, seconds: float) -> Figures:
    total = sum(len(v) for v in samples.by_endpoint.values())
    p99 = {
        name: percentile(samples.by_endpoint[name], 99)
        for name in ("create", "answer", "state")
        if samples.by_endpoint.get(name)
    }
    errors = sum(n for name, n in samples.errors.items() if not name.startswith("register"))
    if samples.errors:
        print(f"  errors (sign-ups are retried and not counted): {dict(samples.errors)}")
    return Figures(
        system,
        learners,
        workers,
        total,
        seconds,
        errors,
        p99,
        create_rounds=_create_rounds(samples),
    )


def _create_rounds(samples: Samples) -> tuple[float, float, float] | None:
    """The first round's creates (p50, max) and the later rounds' p99, in ms (None without both)."""
    first = samples.first_creates
    later = list(samples.by_endpoint.get("create", []))
    for latency in first:  # each first create is in ``later`` once: take it out
        later.remove(latency)
    if not first or len(later) < 2:
        return None
    return statistics.median(first), max(first), percentile(later, 99)


async def run_side_by_side(args: argparse.Namespace) -> list[Figures]:
    """Issue 17's comparison: the ceiling, SQLite, PostgreSQL, PostgreSQL + Redis (1, 2 workers)."""
    rows: list[Figures] = []
    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    for learners in (int(n) for n in str(args.learners).split(",")):
        for system in systems:
            print(
                f"- {system}, {learners} learners (load average "
                f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})",
                flush=True,
            )
            with tempfile.TemporaryDirectory(prefix="cc-bench-api-") as workdir:
                if system == "ceiling":
                    server, port = start_ceiling(Path(workdir))
                    try:
                        used = cpu_seconds(server.pid)
                        rows.append(
                            await _ceiling_figures(port, learners, max(100, args.rounds * 6))
                        )
                        used = cpu_seconds(server.pid) - used
                        rows[-1].cpu_ms = used * 1000 / max(rows[-1].requests, 1)
                        print_side_by_side(rows[-1:], header=False)
                    finally:
                        stop_server(server)
                    continue
                workers, extra_env = 1, {}
                if system == "sqlite":
                    url, label = (
                        f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}",
                        "this project, SQLite",
                    )
                else:
                    url, label = args.postgres_url, "this project, PostgreSQL"
                    await reset_postgres(url)
                    if args.prefill_events:
                        await prefill(url, args.prefill_events)
                        label += f" ({args.prefill_events:,} events before)"
                    if system.startswith("pg-redis-"):
                        if not args.redis_url:
                            print("  skipped: no --redis-url / BENCH_API_REDIS_URL")
                            continue
                        workers = int(system.removeprefix("pg-redis-"))
                        extra_env = {
                            "REDIS_URL": args.redis_url,
                            "REDIS_KEY_PREFIX": f"cc-bench-{secrets.token_hex(4)}:",
                        }
                        label = label.replace("PostgreSQL", "PostgreSQL + Redis")
                server, port = start_server(
                    url, Path(workdir), args.log_level, workers, extra_env, args.multi_worker
                )
                cap = CpuCap(args.cpu_cap, f"cc-bench-{os.getpid()}") if args.cpu_cap else None
                try:
                    if cap is not None:  # a diagnostic: see benchmarks/cpu_cap.py
                        capped = cap.apply(server.pid)
                        label += (
                            f" [diagnostic: {capped} processes capped at {cap.cores:g} core each]"
                        )
                    profile = _profiled(server, args.py_spy, f"{system}-{learners}")
                    cpu: list[CpuUse] = []
                    opened: list[int] = []
                    samples, seconds = await _play(
                        port, args, learners, profile, server.pid, cpu, url, opened
                    )
                finally:
                    stop_server(server)
                    if cap is not None:
                        throttled = cap.throttling()
                        cap.remove()
                        print(
                            f"  capped at {cap.cores:g} core per server process: throttled in "
                            f"{100 * throttled.share:.0f} % of {throttled.periods:,} periods "
                            "(sign-up included)"
                        )
                rows.append(_figures(label, learners, workers, samples, seconds))
                if cpu:
                    rows[-1].use = cpu[0]
                    rows[-1].cpu_ms = cpu[0].per_request(cpu[0].server, rows[-1].requests)
                rows[-1].connections_opened = opened[0] if opened else None
                print_side_by_side(rows[-1:], header=False)
    print_side_by_side(rows)
    return rows


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process ``root`` and its descendants (Linux)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid, used in times.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += used
    return total


@contextlib.contextmanager
def _profiled(server: subprocess.Popen[bytes], prefix: str | None, name: str) -> Any:
    """With ``--py-spy PREFIX``: sample the server (and its workers) with py-spy while the block
    (the play phase) runs, writing collapsed stacks to ``PREFIX-NAME.txt``."""
    if not prefix:
        yield
        return
    output = f"{prefix}-{name}.txt"
    if shutil.which("py-spy") is None:
        print("  no profile: py-spy is not on PATH (pip install py-spy)")
        yield
        return
    command = ["py-spy", "record", "--pid", str(server.pid), "--subprocesses", "--rate", "250"]
    command += ["--format", "raw", "--output", output, "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
        print(f"  profile: {output}")


def print_side_by_side(rows: list[Figures], *, header: bool = True) -> None:
    if not header:
        row = rows[0]
        p99 = " / ".join(f"{row.p99.get(n, 0):,.0f}" for n in ("create", "answer", "state"))
        used = f", server CPU {row.cpu_ms:.2f} ms/request" if row.cpu_ms is not None else ""
        print(f"  {row.rate:,.0f} requests/s, {row.errors} errors, p99 {p99} ms{used}", flush=True)
        if row.create_rounds is not None:
            first_p50, first_max, later_p99 = row.create_rounds
            print(
                f"  creates: first round p50 {first_p50:,.0f}, max {first_max:,.0f} ms; "
                f"later rounds p99 {later_p99:,.0f} ms",
                flush=True,
            )
        if row.use is not None:
            print(f"  {_cpu_line(row)}", flush=True)
        return
    print()
    print(
        "| system | learners | workers | requests | requests/s | errors "
        "| p99 create / answer / state (ms) | share of the ceiling | server CPU ms/request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ceilings = {row.learners: row.rate for row in rows if "ceiling" in row.system}
    for row in rows:
        p99 = " / ".join(
            f"{row.p99[name]:,.0f}" if name in row.p99 else "—"
            for name in ("create", "answer", "state")
        )
        ceiling_rate = ceilings.get(row.learners)
        share = f"{row.rate / ceiling_rate:.3f}" if ceiling_rate else "—"
        print(
            f"| {row.system} | {row.learners} | {row.workers} | {row.requests:,} | "
            f"{row.rate:,.0f} | {row.errors} | {p99} | {share} | "
            f"{'—' if row.cpu_ms is None else f'{row.cpu_ms:.2f}'} |"
        )
    measured = [row for row in rows if row.use is not None]
    if measured:
        print(
            "\nwhere the play phase's CPU went (the load generator, PostgreSQL and the server "
            "share the machine's cores; a machine busy near 100 % cannot show a second worker's gain):"
        )
        for row in measured:
            print(
                f"- {row.system}, {row.learners} learners, {row.workers} worker(s): {_cpu_line(row)}"
            )
    print(
        f"\ntargets (50 learners, 1 worker): share ≥ 0.25, p99 create/answer/state < "
        f"{ISSUE_TARGETS_MS['create']:.0f}/{ISSUE_TARGETS_MS['answer']:.0f}/"
        f"{ISSUE_TARGETS_MS['state']:.0f} ms, 0 errors; 2 workers ≥ 1.3 × 1 worker (PostgreSQL + Redis)"
    )


def _cpu_line(row: Figures) -> str:
    """Where one row's play-phase CPU went, per request and as a share of the machine."""
    use = row.use
    assert use is not None
    parts = []
    for name, spent in (
        ("server", use.server),
        ("load generator", use.generator),
        ("PostgreSQL backends", use.postgres),
    ):
        parts.append(
            f"{name} {use.per_request(spent, row.requests):.2f} ms/request "
            f"({100 * use.share_of_machine(spent):.0f} % of the machine)"
        )
    line = "; ".join(parts) + f"; machine busy {100 * use.machine_busy:.0f} % (every process)"
    if split := use.worker_split():
        line += f"; server CPU split between processes {split}"
    if len(use.connections) > 1:
        line += f"; clients held per worker {'/'.join(map(str, use.connections))}"
    if row.connections_opened is not None:
        line += f"; PostgreSQL connections opened {row.connections_opened}"
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", default="50", help="a count, or several: 50,500")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="issue 17's comparison: the ceiling, SQLite, PostgreSQL, PostgreSQL + Redis 1 and 2 workers",
    )
    parser.add_argument(
        "--systems",
        default="ceiling,sqlite,postgres,pg-redis-1,pg-redis-2",
        help="with --side-by-side: which rows to run",
    )
    parser.add_argument(
        "--flow",
        choices=["steps", "issue"],
        default=None,
        help="steps: every choice step up to the first chat step; issue: create, start, continue, "
        "wrong answer, right answer, state (the default with --side-by-side)",
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=50,
        help="with --side-by-side: accounts signed up (argon2id is slow), shared by the learners",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="with --side-by-side: profile each server with py-spy (pip install py-spy) into PREFIX-*.txt",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_API_REDIS_URL"),
        help="Redis for the PostgreSQL + Redis rows (use a db of your own, e.g. redis://127.0.0.1:6379/6)",
    )
    parser.add_argument(
        "--multi-worker",
        choices=["serve", "uvicorn"],
        default="serve",
        help="how several workers run: `curiouscore serve --workers N` (a socket per worker) or "
        "uvicorn's --workers (one shared socket; what main had before `serve --workers`)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="sessions per learner")
    parser.add_argument("--noop-per-learner", type=int, default=100)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="mean pause before each action (0: no pause, every learner hammers the server)",
    )
    parser.add_argument("--log-level", default="WARNING", help="the server's LOG_LEVEL")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--prefill-events",
        type=int,
        default=0,
        help="PostgreSQL: store this many filler events before the run (e.g. 1000000)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_API_DATABASE_URL",
            "postgresql+asyncpg://postgres@127.0.0.1:5432/curiouscore_bench_api",
        ),
    )
    parser.add_argument(
        "--cpu-cap",
        type=float,
        metavar="CORES",
        help="a diagnostic: cap every server process at CORES of a core (a cgroup each, e.g. 0.3) "
        "so the server, not the shared machine, is the limit; never the issue's uncapped figure",
    )
    args = parser.parse_args()
    if args.cpu_cap:
        cpu_cap.available()
        print(
            f"DIAGNOSTIC RUN: each server process capped at {args.cpu_cap:g} core (cgroup "
            "cpu.cfs_quota_us); these figures show how the design scales when CPU is there to be "
            "had, not the uncapped throughput the issue's targets are about"
        )
    if args.flow is None:
        args.flow = "issue" if args.side_by_side else "steps"
    if args.side_by_side:
        print(
            f"machine: {platform.machine()} · {os.cpu_count()} cores · Python "
            f"{platform.python_version()} · learners {args.learners} × {args.rounds} rounds "
            f"({args.flow} flow) · think time {args.think_ms:g} ms · server LOG_LEVEL={args.log_level}"
            f" · several workers through {args.multi_worker} · load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        await run_side_by_side(args)
        if args.cpu_cap:
            print(f"(a diagnostic run: the server capped at {args.cpu_cap:g} core per process)")
        return
    args.learners = int(args.learners)
    print(
        f"machine: {platform.machine()} · {os.cpu_count()} cores · Python {platform.python_version()}"
        f" · {args.learners} concurrent learners × {args.rounds} rounds of {CHALLENGE}'s choice steps"
        f" · think time {args.think_ms:g} ms · {args.workers} uvicorn worker(s)"
        f" · server LOG_LEVEL={args.log_level}"
    )
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.backend in ("sqlite", "both"):
        await run_backend("SQLite", "sqlite", args)
    if args.backend in ("postgres", "both"):
        await run_backend("PostgreSQL", args.postgres_url, args)


if __name__ == "__main__":
    asyncio.run(main())
