"""Code-step sandbox: start-up and run latency (p50/p99) and runs per second.

* start-up: an empty Python job (one trivial test) through the bubblewrap runner: namespaces,
  mounts, rlimits and the interpreter, nothing else; the same through unsafe-local for contrast.
* run: the shipped ``fizzbuzz`` step of python-testing (solution, all tests) and the SQL join step
  of sql-joins (solution, both tests: fixture built twice, reference and learner query each time).
* throughput: runs per second with N runs in flight (the runner's own concurrency limit, default
  2 = the machine's cores, applies).

Run: ``.venv/bin/python -m benchmarks.bench_sandbox [--quick]`` (as root, every run gets its own uid).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from pathlib import Path

from core.content import load_challenge_file, to_spec
from core.engine import StepSpec
from core.sandbox.bwrap import BwrapRunner
from core.sandbox.local import UnsafeLocalRunner
from core.sandbox.models import CodeJob, CodeRunner, CodeTest
from core.service.code_runs import job_for

ROOT = Path(__file__).resolve().parents[1]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def shipped_step(challenge: str, step_id: str) -> StepSpec:
    spec = to_spec(load_challenge_file(ROOT / "challenges" / f"{challenge}.yaml"))
    return next(s for s in spec.steps if s.id == step_id)


async def latency(runner: CodeRunner, job: CodeJob, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        result = await runner.run(job)
        samples.append((time.perf_counter() - started) * 1000)
        assert result.status == "ok", result
    return samples


async def throughput(runner: CodeRunner, job: CodeJob, n: int, in_flight: int) -> float:
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            queue.pop()
            await runner.run(job)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return n / (time.perf_counter() - started)


async def main(quick: bool) -> None:
    n = 10 if quick else 100
    bwrap = BwrapRunner(max_concurrency=os.cpu_count() or 2)
    await bwrap.check()
    local = UnsafeLocalRunner()
    empty = CodeJob("python", "pass", (CodeTest("t", "pass"),))
    fizz = shipped_step("python-testing", "fizzbuzz")
    sql = shipped_step("sql-joins", "write-the-join")
    assert fizz.code is not None and sql.code is not None
    jobs = {
        "start-up (empty job)": empty,
        "python fizzbuzz, 3 tests": job_for(fizz, fizz.code.solution),
        "sql join, 2 tests": job_for(sql, sql.code.solution),
    }
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{n} runs each, euid {os.geteuid()}")  # fmt: skip
    print()
    print("| runner | job | p50 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|")
    for name, runner in (("bwrap", bwrap), ("unsafe-local", local)):
        for label, job in jobs.items():
            if name == "unsafe-local" and label != "start-up (empty job)":
                continue
            samples = await latency(runner, job, n)
            print(f"| {name} | {label} | {percentile(samples, 50):.0f} | "
                  f"{percentile(samples, 99):.0f} | {statistics.mean(samples):.0f} |")  # fmt: skip
    print()
    print("| runner | job | in flight | runs/s |")
    print("|---|---|---|---|")
    for in_flight in (1, 2, 4):
        rate = await throughput(bwrap, jobs["python fizzbuzz, 3 tests"], n, in_flight)
        print(f"| bwrap | python fizzbuzz | {in_flight} | {rate:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 runs each instead of 100")
    asyncio.run(main(parser.parse_args().quick))
