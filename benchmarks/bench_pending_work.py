"""Answer latency with PENDING_WORK=inline vs queue against a slow LLM (the tests' fake server).

N learners each reach the chat step of a small quiz (untimed), then all answer it at once. Timed
per learner: how long the answer call takes to return ("answer"), and how long until the grade is
in the event log ("graded"). Inline, the call waits for the LLM (behind LLM_MAX_CONCURRENCY);
queued, it returns at once and a `curiouscore worker` subprocess (WORKER_CONCURRENCY jobs) grades.
Runs the service layer in this process on PostgreSQL (``--postgres-url``, its own database).

    .venv/bin/python -m benchmarks.bench_pending_work --learners 50 --llm-delay 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_api import reset_postgres
from core.bootstrap import Services, build_services
from core.config import Settings
from core.service.actor import Actor
from core.service.clock import SystemClock
from tests.core.llm.fake_server import FakeLlmServer, Reply
from tests.core.test_worker import quiet_quiz

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/curiouscore_bench_queue"
ANSWER = "Functions let you reuse a named block of logic."


def llm_env(server: FakeLlmServer, concurrency: int) -> dict[str, str]:
    return {
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"{server.url}/v1",
        "LLM_TIMEOUT_SECONDS": "300",
        "LLM_MAX_RETRIES": "0",
        "LLM_MAX_CONCURRENCY": str(concurrency),
        "LLM_MAX_REQUESTS_PER_MINUTE": "100000",
    }


async def is_graded(services: Services, session_id: str) -> bool:
    events = await services.store.read_stream(session_id)
    return any(e.type == "AnswerGraded" and e.data["step_id"] == "explain" for e in events)


async def run_mode(
    mode: str, args: argparse.Namespace, server: FakeLlmServer
) -> dict[str, list[float]]:
    await reset_postgres(args.postgres_url)
    env = llm_env(server, args.llm_concurrency)
    settings = Settings.model_validate(
        {
            "env": "test",
            "database_url": args.postgres_url,
            "pending_work": mode,
            **{k.lower(): v for k, v in env.items()},
        }
    )
    services = await build_services(settings, clock=SystemClock())
    worker = None
    try:
        await services.catalog.publish(quiet_quiz(), at=services.clock.now())
        learners = [f"learner-{n}" for n in range(args.learners)]
        for learner in learners:
            await services.learners.ensure_learner(learner, learner)
        sessions = await asyncio.gather(*(_to_chat(services, Actor(lid)) for lid in learners))

        async def choice(actor: Actor, session_id: str) -> float:
            started = time.perf_counter()
            await services.game.submit_answer(actor, session_id, "truth", True)
            return time.perf_counter() - started

        # The same learners answer a true/false step at once first: the baseline of a write.
        baseline = await asyncio.gather(
            *(choice(Actor(lid), sid) for lid, sid in zip(learners, sessions, strict=True))
        )
        if mode == "queue":
            worker = start_worker(args, env)
            for _ in range(1200):  # up to 2 minutes; start-up is not part of the latency
                if worker_ready(worker, Path(args.worker_log)):
                    break
                await asyncio.sleep(0.1)
        server.reset()
        server.script("openai", *[Reply(delay=args.llm_delay) for _ in learners])

        async def one(actor: Actor, session_id: str) -> tuple[float, float]:
            assert services.changes is not None
            # Told by the change feed (as the SSE stream is), not by polling the database, which
            # would slow the answers still being submitted.
            async with services.changes.subscription(session_id) as changes:
                started = time.perf_counter()
                await services.game.submit_answer(actor, session_id, "explain", ANSWER)
                answered = time.perf_counter()
                while not await is_graded(services, session_id):
                    await changes.wait(1.0)
                return answered - started, time.perf_counter() - started

        timings = await asyncio.gather(
            *(one(Actor(lid), sid) for lid, sid in zip(learners, sessions, strict=True))
        )
        return {
            "choice": list(baseline),
            "answer": [a for a, _ in timings],
            "graded": [g for _, g in timings],
        }
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        await services.close()


def start_worker(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = Path(args.worker_log)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--concurrency", str(args.llm_concurrency)],
            cwd=ROOT,
            env={**os.environ, **env, "DATABASE_URL": args.postgres_url, "LOG_LEVEL": "INFO"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def worker_ready(worker: subprocess.Popen[bytes], log: Path) -> bool:
    if worker.poll() is not None:
        raise SystemExit(f"the worker exited: {log.read_text()[-2000:]}")
    return b"worker started" in log.read_bytes()


async def _to_chat(services: Services, actor: Actor) -> str:
    game = services.game
    view = await game.create_session(actor, "quiz")
    sid = view.session_id
    await game.start_session(actor, sid)
    await game.continue_gate(actor, sid, "welcome")
    await game.submit_answer(actor, sid, "pick", 0)
    await game.submit_answer(actor, sid, "several", (0, 2))
    return sid


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--llm-delay", type=float, default=1.0, help="seconds per grading call")
    parser.add_argument(
        "--llm-concurrency", type=int, default=8, help="LLM_MAX_CONCURRENCY and worker jobs"
    )
    parser.add_argument("--worker-log", default="/tmp/curiouscore-bench-worker.log")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("BENCH_QUEUE_DATABASE_URL", DEFAULT_URL)
    )
    args = parser.parse_args()
    server = FakeLlmServer().start()
    try:
        results = {mode: asyncio.run(run_mode(mode, args, server)) for mode in ("inline", "queue")}
    finally:
        server.stop()
    print(
        f"\n{args.learners} learners answer a chat step at once; the LLM takes {args.llm_delay:g} s "
        f"per grade; {args.llm_concurrency} LLM calls at a time (ms)\n"
    )
    print(
        "| PENDING_WORK | true/false answer p50 / p99 | chat answer p50 / p99 "
        "| chat graded p50 / p99 |"
    )
    print("|---|---|---|---|")
    for mode, timing in results.items():
        print(
            f"| {mode} | {pct(timing['choice'], 0.5):,.0f} / {pct(timing['choice'], 0.99):,.0f} "
            f"| {pct(timing['answer'], 0.5):,.0f} / {pct(timing['answer'], 0.99):,.0f} "
            f"| {pct(timing['graded'], 0.5):,.0f} / {pct(timing['graded'], 0.99):,.0f} |"
        )


if __name__ == "__main__":
    main()
