"""HTTP load benchmark: N concurrent learners play a challenge's choice steps through the API.

The server runs as a subprocess (``curiouscore serve``, one uvicorn worker; ``--workers N`` seeds
once, then runs ``uvicorn --workers N`` as docs/deploy.md does) on a free loopback port; this process is the load generator. Each learner registers, then per round creates a
session, starts it, and for every step reads the state (GET) and answers it (gates: continue;
mcq / multi / true_false: the right answer) until the first chat step, where the round ends. Then
the same server's throughput on ``/livez`` (no database, no auth) gives the ceiling.

Run: ``.venv/bin/python -m benchmarks.bench_api [--learners 50] [--rounds 3] [--backend both]``.
Bounded: N learners × R rounds, a hard time limit, loopback only. PostgreSQL runs use their own
database (``BENCH_API_DATABASE_URL``, default ``…/curiouscore_bench_api``, created if missing and
emptied before the run), never the test database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from benchmarks.bench_core import ensure_database
from core.content import load_challenge_file
from core.store.engine import create_store_engine
from core.store.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
CHALLENGE = "python-functions"
PASSWORD = "benchmark passphrase"
TARGETS_MS = {"create": 100.0, "answer (mcq)": 200.0, "state": 200.0}
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
        except ConnectionClosed:
            # uvicorn closes connections idle for 5 s: reconnect once and send again.
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
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


@dataclass
class Samples:
    by_endpoint: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))

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
        status, data = await connection.request(method, path, body, headers)
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
    pair = await samples.call(connection, "register", "POST", "/api/auth/register", body)
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def learner(
    connection: Connection,
    headers: dict[str, str],
    rounds: int,
    answers: dict[str, object],
    samples: Samples,
    think_ms: float,
) -> None:
    async def call(*args: Any) -> Any:
        if think_ms:  # a person reads and clicks: 0.5 to 1.5 times the mean think time
            await asyncio.sleep(think_ms * random.uniform(0.5, 1.5) / 1000)
        return await samples.call(*args)

    for _ in range(rounds):
        created = await call(
            connection, "create", "POST", "/api/sessions", {"challenge_id": CHALLENGE}, headers
        )
        path = f"/api/sessions/{created['session_id']}"
        view = await call(connection, "start", "POST", f"{path}/start", None, headers)
        while view.get("step"):
            view = await call(connection, "state", "GET", path, None, headers)
            step = view["step"]
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


async def ceiling(connections: list[Connection], per_worker: int, samples: Samples) -> float:
    async def worker(connection: Connection) -> None:
        for _ in range(per_worker):
            await samples.call(connection, "no-op (/livez)", "GET", "/livez")

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    return time.perf_counter() - started


def start_server(
    database_url: str, workdir: Path, log_level: str, workers: int = 1
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": log_level,
        "REGISTER_RATE_LIMIT_PER_HOUR": "100000",
        "LOGIN_RATE_LIMIT_PER_MINUTE": "100000",
    }
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
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
            "--no-access-log", "--app-dir", str(ROOT),
        ]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return server, port
        except httpx.TransportError:
            pass
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
    for endpoint, target in TARGETS_MS.items():
        p99 = percentile(samples.by_endpoint[endpoint], 99)
        verdict = "holds" if p99 < target else "MISSED"
        print(f"target {endpoint} p99 < {target:.0f} ms: {p99:.1f} ms, {verdict}")


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
            everyone = await asyncio.wait_for(
                asyncio.gather(*(sign_up(c, i, samples) for i, c in enumerate(connections))),
                TIME_LIMIT_SECONDS,
            )
            started = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        learner(c, h, args.rounds, answers, samples, args.think_ms)
                        for c, h in zip(connections, everyone, strict=True)
                    )
                ),
                TIME_LIMIT_SECONDS,
            )
            play_seconds = time.perf_counter() - started
            ceiling_seconds = await asyncio.wait_for(
                ceiling(connections, args.noop_per_learner, samples), TIME_LIMIT_SECONDS
            )
            report(label, samples, play_seconds, ceiling_seconds)
        finally:
            for connection in connections:
                await connection.close()
            stop_server(server)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50)
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
    args = parser.parse_args()
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
