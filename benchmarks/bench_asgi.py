"""In-process benchmark of issue 17's flow through the whole ASGI app: no HTTP sockets, no uvicorn.

Each of ``--learners`` learners at once plays rounds of create → start → continue → wrong answer
→ right answer → read state on SQLite (or PostgreSQL: ``--database-url``), every request handed to ``create_app()``'s app as uvicorn
would (a scope, a ``receive`` giving the body, a ``send`` collecting the answer), until about
``--requests`` requests are done. ``--through service`` calls the same use cases directly
instead (what the core costs without HTTP), so the two runs' difference is what the API layers
cost per request: the framework, the middleware, the token check and the JSON.

Wall-clock figures on a shared machine move by ±20 %; count instructions instead, instrumenting
only the timed requests (startup, sign-ups and a warm-up round excluded)::

    valgrind --tool=callgrind --instr-atstart=no python -m benchmarks.bench_asgi --callgrind
    valgrind --tool=callgrind --instr-atstart=no python -m benchmarks.bench_asgi --callgrind \\
        --through service
    valgrind --tool=callgrind --instr-atstart=no python -m benchmarks.bench_asgi --callgrind \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_asgi

``--database-url`` runs on PostgreSQL instead of a new SQLite file: the database is created when
missing and emptied (its ``public`` schema dropped) and migrated before the run, so name one of
the benchmark's own, never the test database. Only this process is counted, not PostgreSQL's
backends: the count is what the PostgreSQL path costs the server (the driver, the arguments and
rows, the kept connections). ``--loop uvloop`` runs on uvloop, as uvicorn serves when it is
installed: asyncio's own loop (the default, as every figure before it) runs its ``call_soon``, its
selector and its socket transports in Python, which only the PostgreSQL path uses much.

With ``--callgrind`` the script switches callgrind's instrumentation on and off around the timed
part itself (``callgrind_control``) and prints instructions per request, every thread counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from api.app import create_app
from api.runtime import Runtime
from benchmarks.bench_api import reset_postgres
from core.config import Settings
from core.service.heap import prepare_collector_for_serving
from core.store import migrate
from core.store.base import AccessClaim

CHALLENGE = "python-functions"
PASSWORD = "benchmark passphrase"
ACCOUNTS = 5  # learners share these accounts, as in bench_core's flow (sign-ups are not timed)
SECRET = "bench-asgi-secret-key-long-enough-for-every-hmac-algorithm-0123456789"

Headers = list[tuple[bytes, bytes]]


class AsgiClient:
    """Hands requests to an ASGI app the way uvicorn does for a keep-alive HTTP/1.1 connection,
    with the headers bench_api's client sends."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, body) of one request."""
        payload = b"" if body is None else json.dumps(body).encode()
        raw: Headers = [(b"host", b"127.0.0.1:8000")]
        raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
        if body is not None:
            raw += [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(payload)),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": raw,
            "state": {},
        }
        answered = asyncio.Event()
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    answered.set()

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


# One learner action: (label, method, path, body, headers) -> what it answered.
Call = Callable[[str, str, str, Any, dict[str, str]], Awaitable[Any]]
# After create: (label, path after the session's, body) of each request of the round.
Plan = list[tuple[str, str, Any]]


class Driver:
    """Plays rounds through ``call``; the round's requests after create are worked out once from
    the views (``learn``), so the timed rounds spend nothing on reading the answers."""

    def __init__(self, call: Call, session_id: Callable[[Any], str]) -> None:
        self.call = call
        self.session_id = session_id
        self.plan: Plan = []

    async def learn(self, headers: dict[str, str], answers: dict[str, int]) -> None:
        """Issue 17's round (bench_api's ``--flow issue``), reading each view: the plan."""
        call = self.call
        plan: Plan = []
        created = await call(
            "create", "POST", "/api/sessions", {"challenge_id": CHALLENGE}, headers
        )
        path = f"/api/sessions/{self.session_id(created)}"
        plan.append(("start", "/start", None))
        step = _step(await call("start", "POST", f"{path}/start", None, headers))
        while step.get("kind") == "gate":
            plan.append(("continue", "/continue", {"step_id": step["id"]}))
            step = _step(
                await call(*plan[-1][:1], "POST", path + plan[-1][1], plan[-1][2], headers)
            )
        if step.get("kind") == "mcq":
            right = answers[step["id"]]
            wrong = next(i for i in range(len(step["choices"])) if i != right)
            for answer in (wrong, right):
                plan.append(("answer", "/answer", {"step_id": step["id"], "answer": answer}))
                keyed = {**headers, "Idempotency-Key": os.urandom(8).hex()}
                await call("answer", "POST", f"{path}/answer", plan[-1][2], keyed)
        plan.append(("state", "", None))
        await call("state", "GET", path, None, headers)
        self.plan = plan

    async def play(self, headers: dict[str, str]) -> int:
        """One round as planned; returns how many requests it made."""
        call = self.call
        created = await call(
            "create", "POST", "/api/sessions", {"challenge_id": CHALLENGE}, headers
        )
        path = f"/api/sessions/{self.session_id(created)}"
        for label, tail, body in self.plan:
            keyed = (
                {**headers, "Idempotency-Key": os.urandom(8).hex()}
                if label == "answer"
                else headers
            )
            await call(label, "GET" if label == "state" else "POST", path + tail, body, keyed)
        return 1 + len(self.plan)


def _step(view: Any) -> dict[str, Any]:
    if isinstance(view, bytes):
        view = json.loads(view)
    if isinstance(view, dict):
        return view.get("step") or {}
    step = view.step
    return {} if step is None else {"id": step.id, "kind": step.kind, "choices": step.choices}


SESSION_ID = re.compile(rb'"session_id":"([^"]+)"')


def through_app(client: AsgiClient) -> Driver:
    async def call(label: str, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        status, data = await client.request(method, path, body, headers)
        if status >= 400:
            raise RuntimeError(f"{label}: {status} {data!r}")
        return data

    def session_id(created: bytes) -> str:
        found = SESSION_ID.search(created)
        assert found is not None
        return found.group(1).decode()

    return Driver(call, session_id)


def through_service(runtime: Runtime) -> Driver:
    """The same actions as the session routes' use cases, called directly with the token's claim
    (as ``bench_core --flow-only``): no HTTP, no token check, no JSON."""
    assert runtime.services is not None
    game = runtime.services.game
    claims: dict[str, AccessClaim] = {}

    async def call(label: str, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        token = headers["Authorization"].removeprefix("Bearer ")
        claim = claims.get(token) or claims.setdefault(token, runtime.tokens.verify(token))
        session = path.split("/")[3] if path.count("/") > 2 else ""
        key = headers.get("Idempotency-Key")
        if label == "create":
            return await game.create_session(claim, body["challenge_id"])
        if label == "start":
            return await game.start_session(claim, session)
        if label == "continue":
            return await game.continue_gate(claim, session, body["step_id"], idempotency_key=key)
        if label == "answer":
            return await game.submit_answer(
                claim, session, body["step_id"], body["answer"], idempotency_key=key
            )
        return await game.get_view(claim, session)

    return Driver(call, lambda created: str(created.session_id))


class Instructions:
    """Callgrind's instruction count of this process, switched on for the timed part only."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _control(self, *arguments: str) -> str:
        command = ["callgrind_control", *arguments, str(os.getpid())]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def start(self) -> None:
        if self.enabled:
            self._control("--instr=on")

    def stop(self) -> int | None:
        """Every thread's instructions since ``start`` (None without ``--callgrind``)."""
        if not self.enabled:
            return None
        totals = self._control("-e")
        self._control("--instr=off")
        return thread_totals(totals)


def thread_totals(report: str) -> int:
    """The sum of every thread's count in ``callgrind_control -e``'s report."""
    counted = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", report, re.MULTILINE)
    if not counted:
        raise RuntimeError(f"no totals from callgrind_control: {report!r}")
    return sum(int(value.replace(",", "")) for value in counted)


@dataclass(frozen=True)
class Measured:
    requests: int
    rounds: int
    wall_seconds: float
    cpu_seconds: float
    instructions: int | None


async def measure(
    *,
    requests: int,
    learners: int,
    through: str = "app",
    log_level: str = "WARNING",
    counter: Instructions | None = None,
    serving: bool = False,
    database_url: str | None = None,
) -> Measured:
    """Sign up, learn the round, warm up, then time about ``requests`` requests of ``learners``
    at once ``through`` the app or the service. ``serving``: tune the collector as ``curiouscore
    serve`` does before it listens (for a process that does nothing else). ``database_url``: a
    PostgreSQL database to empty and use instead of a new SQLite file."""
    counter = counter or Instructions(enabled=False)
    with tempfile.TemporaryDirectory(prefix="cc-bench-asgi-") as workdir:
        url = database_url or f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        if url.startswith("postgresql"):
            await reset_postgres(url)  # also migrates
        else:
            await migrate(url)
        settings = Settings(
            database_url=url,
            env="production",
            secret_key=SecretStr(SECRET),
            log_level=log_level,
            register_rate_limit_per_hour=100_000,
            login_rate_limit_per_minute=100_000,
        )
        app = create_app(settings=settings)
        client = AsgiClient(app)
        async with app.router.lifespan_context(app):
            runtime: Runtime = app.state.runtime
            assert runtime.services is not None
            spec = await runtime.services.catalog.latest_spec(CHALLENGE)
            answers = {
                step.id: next((i for i, c in enumerate(step.choices) if c.correct), 0)
                for step in spec.steps
            }
            accounts = [await sign_up(client, index) for index in range(ACCOUNTS)]
            driver = through_app(client) if through == "app" else through_service(runtime)
            await driver.learn(accounts[0], answers)
            for headers in accounts:  # warm: caches, statements, every account's token
                await driver.play(headers)
            rounds = max(1, round(requests / (learners * (1 + len(driver.plan)))))
            if serving:
                prepare_collector_for_serving()

            async def learner(index: int) -> int:
                headers = accounts[index % len(accounts)]
                return sum([await driver.play(headers) for _ in range(rounds)])

            counter.start()
            wall, cpu = time.perf_counter(), time.process_time()
            made = sum(await asyncio.gather(*(learner(n) for n in range(learners))))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            instructions = counter.stop()
    return Measured(made, rounds, wall, cpu, instructions)


async def sign_up(client: AsgiClient, index: int) -> dict[str, str]:
    body = {
        "email": f"learner{index}@bench.example",
        "password": PASSWORD,
        "display_name": f"Learner {index}",
    }
    status, signed = await client.request("POST", "/api/auth/register", body)
    if status != 201:
        raise RuntimeError(f"sign-up: {status} {signed!r}")
    return {"Authorization": f"Bearer {json.loads(signed)['access_token']}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=900, help="about this many (default 900)")
    parser.add_argument("--learners", type=int, default=50, help="at once (default 50)")
    parser.add_argument(
        "--through",
        choices=("app", "service"),
        default="app",
        help="the ASGI app (default) or the use cases directly",
    )
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL, as bench_api's server")
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions (run under callgrind)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database of the benchmark's own, emptied first (default: a new SQLite)",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop: asyncio's (default, as the figures so far) or uvloop (uvicorn's"
        " choice when it is installed, as it is in production)",
    )
    args = parser.parse_args()
    run = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    measured = run(
        measure(
            requests=args.requests,
            learners=args.learners,
            through=args.through,
            log_level=args.log_level,
            counter=Instructions(args.callgrind),
            serving=True,
            database_url=args.database_url,
        )
    )
    made = measured.requests
    print(
        f"through {args.through}: {made} requests ({args.learners} learners x "
        f"{measured.rounds} rounds), {made / measured.wall_seconds:,.0f}/s, "
        f"CPU {1000 * measured.cpu_seconds / made:.3f} ms/request"
    )
    if measured.instructions is not None:
        total = measured.instructions
        print(f"instructions: {total:,} total, {total / made:,.0f} per request")


if __name__ == "__main__":
    main()
