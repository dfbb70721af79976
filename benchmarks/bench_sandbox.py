"""Code-step sandbox: start-up and run latency (p50/p99) and runs per second.

* start-up: an empty Python job (one trivial test) through the bubblewrap runner: namespaces,
  mounts, rlimits and the interpreter, nothing else; the same through unsafe-local for contrast.
* run: the shipped ``fizzbuzz`` step of python-testing (solution, all tests) and the SQL join step
  of sql-joins (solution, both tests: fixture built twice, reference and learner query each time).
* throughput: runs per second with N runs in flight (the runner's own concurrency limit, default
  2 = the machine's cores, applies).

Run: ``.venv/bin/python -m benchmarks.bench_sandbox [--quick]`` (as root, every run gets its own uid).

``--against REV`` instead compares the harness alone (no bubblewrap: ``python3 -I -S -B -c``) of this
checkout with the one at git revision REV, runs interleaved A, B, A, B… so that the load of a
shared machine hits both alike (e.g. ``--against cd03dc9``, the harness before the judge/worker
split).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

from core.content import load_challenge_file, to_spec
from core.engine import StepSpec
from core.sandbox.bwrap import BwrapRunner
from core.sandbox.local import UnsafeLocalRunner
from core.sandbox.models import CodeJob, CodeRunner, CodeTest
from core.sandbox.process import harness_source
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


def harness_ab(revision: str, n: int) -> None:
    """Wall time of the harness alone, this checkout's against ``revision``'s, interleaved."""
    other = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:core/sandbox/harness.py"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    fizz = shipped_step("python-testing", "fizzbuzz")
    assert fizz.code is not None
    jobs = {
        "empty job, 1 test": CodeJob("python", "pass", (CodeTest("t", "pass"),)),
        "python fizzbuzz, 3 tests": job_for(fizz, fizz.code.solution),
    }
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, {n} runs each"
    )
    print()
    print("| job | harness | p50 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|")
    for label, job in jobs.items():
        payload = json.dumps(dict(asdict(job), marker="@@bench")).encode()
        samples: dict[str, list[float]] = {revision: [], "this checkout": []}
        for _ in range(n):
            for name, source in ((revision, other), ("this checkout", harness_source())):
                started = time.perf_counter()
                out = subprocess.run(
                    ["/usr/bin/python3", "-I", "-S", "-B", "-c", source],
                    input=payload,
                    capture_output=True,
                    check=False,
                ).stdout
                samples[name].append((time.perf_counter() - started) * 1000)
                assert b'"done": true' in out, out[-500:]
        for name, values in samples.items():
            print(f"| {label} | {name} | {percentile(values, 50):.0f} | "
                  f"{percentile(values, 99):.0f} | {statistics.mean(values):.0f} |")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 runs each instead of 100")
    parser.add_argument("--against", metavar="REV", help="compare the harness alone with REV's")
    args = parser.parse_args()
    if args.against:
        harness_ab(args.against, 10 if args.quick else 100)
    else:
        asyncio.run(main(args.quick))
