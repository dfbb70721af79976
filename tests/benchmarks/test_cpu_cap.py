"""bench_api --cpu-cap's cgroups: each process of a tree capped, then removed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import cpu_cap
from benchmarks.cpu_cap import CpuCap, CpuCapUnavailable


def test_a_cap_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        CpuCap(0, "cc-test")


def test_every_process_of_the_tree_is_capped_then_the_groups_go() -> None:
    try:
        cpu_cap.available()
    except CpuCapUnavailable as reason:
        pytest.skip(str(reason))
    code = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"
    parent = subprocess.Popen([sys.executable, "-c", code])
    cap = CpuCap(0.1, f"cc-test-{parent.pid}")
    try:
        deadline = time.monotonic() + 10
        while len(cpu_cap._tree(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cap.apply(parent.pid) == 2
        deadline = time.monotonic() + 10
        while cap.throttling().throttled == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cap.throttling().throttled > 0  # the spinning child is held to 0.1 core
    finally:
        tree = cpu_cap._tree(parent.pid)
        for pid in tree[::-1]:
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        cap.remove()
    assert not list(cpu_cap.V1_CPU.glob(f"cc-test-{parent.pid}-*"))
