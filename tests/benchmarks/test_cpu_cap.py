"""bench_api --cpu-cap's cgroups: each process of a tree capped, then removed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from benchmarks import cpu_cap
from benchmarks.cpu_accounting import process_tree
from benchmarks.cpu_cap import CpuCap, CpuCapUnavailable
from tests.waiting import until


def test_a_cap_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        CpuCap(0, "cc-test")


async def test_every_process_of_the_tree_is_capped_then_the_groups_go() -> None:
    try:
        cpu_cap.available()
    except CpuCapUnavailable as reason:
        pytest.skip(str(reason))
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"
    parent = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    cap = CpuCap(0.1, f"cc-test-{parent.pid}")
    try:
        await until(lambda: len(process_tree(parent.pid)) >= 2, "the spinning child", within=10)
        assert cap.apply(parent.pid) == 2
        # The spinning child is held to 0.1 core.
        await until(lambda: cap.throttling().throttled > 0, "a throttled period", within=10)
    finally:
        tree = process_tree(parent.pid)
        for pid in tree[::-1]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        await parent.wait()
        await until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in tree),
            "the capped processes to exit",
            within=10,
        )
        cap.remove()
    assert not list(cpu_cap.V1_CPU.glob(f"cc-test-{parent.pid}-*"))
