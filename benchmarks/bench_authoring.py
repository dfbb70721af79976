"""Authoring benchmark: time to validate every shipped challenge through papermill.

Run: ``.venv/bin/python -m benchmarks.bench_authoring [--repeat N]``. Prints a table: the whole
``curiouscore author validate`` command (a new process, as an author runs it), then the runner alone
with a fresh kernel per challenge (cold: every notebook imports CuriousCore and matplotlib again)
and with one kernel per worker kept warm across challenges. Figures are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from core.authoring.runner import RunOptions, validate_challenges

ROOT = Path(__file__).resolve().parents[1]
CHALLENGES = sorted((ROOT / "challenges").glob("*.yaml"))


def time_cli(report_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli", "author", "validate", "--report-dir", str(report_dir)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def time_runner(report_dir: Path, *, reuse_kernel: bool) -> float:
    started = time.perf_counter()
    runs = validate_challenges(
        CHALLENGES, RunOptions(report_dir=report_dir, reuse_kernel=reuse_kernel)
    )
    assert all(run.passed for run in runs), [run.problems for run in runs]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{len(CHALLENGES)} challenges; {os.cpu_count()} cores; Python {platform.python_version()}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        reports = Path(folder)
        measures: list[tuple[str, Callable[[], float]]] = [
            ("`curiouscore author validate` (new process)", partial(time_cli, reports)),
            ("runner, fresh kernel per challenge (cold)", partial(time_runner, reports, reuse_kernel=False)),
            ("runner, kept kernel per worker (warm)", partial(time_runner, reports, reuse_kernel=True)),
        ]  # fmt: skip
        for name, measure in measures:
            times = [measure() for _ in range(args.repeat)]
            rows.append((name, min(times), statistics.median(times), max(times)))
    print("| what | best | median | worst |\n|---|---|---|---|")
    for name, best, median, worst in rows:
        print(f"| {name} | {best:.1f} s | {median:.1f} s | {worst:.1f} s |")


if __name__ == "__main__":
    main()
