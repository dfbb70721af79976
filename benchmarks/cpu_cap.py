"""A diagnostic for ``bench_api --cpu-cap``: cap each server process's CPU with a cgroup.

On a 2-core machine the load generator, PostgreSQL and the server workers share the cores, so
one worker already keeps the machine ~85 % busy and a second one cannot show what it adds. Capping
every server process at a fraction of a core (the same fraction for each) makes the server, not
the machine, the limit: if 1 capped worker leaves the machine idle enough, 2 capped workers show
whether the design scales when CPU is there to be had (shared state, locks, registry buckets,
connections). It measures the architecture, not this machine's uncapped throughput: figures
taken with a cap are printed as such and never stand for the uncapped target.

Uses the cgroup v1 ``cpu`` controller (``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``), which is
where this machine mounts it (its cgroup v2 hierarchy has no ``cpu`` controller); each server
process gets a group of its own, removed when the server has stopped. Needs root.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks.cpu_accounting import process_tree

V1_CPU = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


class CpuCapUnavailable(Exception):
    """This machine offers no cgroup this process may create to cap CPU with."""


def available() -> None:
    """Raise :class:`CpuCapUnavailable`, saying why, unless a cap can be set here."""
    if not (V1_CPU / "cpu.cfs_quota_us").exists():
        raise CpuCapUnavailable(
            f"no cgroup v1 cpu controller at {V1_CPU} (on a cgroup v2 machine, enable +cpu in "
            "cgroup.subtree_control and use cpu.max: not written here)"
        )
    if not os.access(V1_CPU, os.W_OK):
        raise CpuCapUnavailable(f"{V1_CPU} is not writable (root needed)")


@dataclass
class Throttling:
    """How often the cap held a process back: periods run and periods throttled."""

    periods: int = 0
    throttled: int = 0

    @property
    def share(self) -> float:
        return self.throttled / self.periods if self.periods else 0.0


class CpuCap:
    """Every process of a server's tree in a cgroup of its own, each capped at ``cores``."""

    def __init__(self, cores: float, name: str) -> None:
        if not 0.01 <= cores <= (os.cpu_count() or 1):
            raise ValueError(f"a cap of {cores} cores is out of range")
        self.cores = cores
        self._name = name
        self._groups: list[Path] = []

    def apply(self, root_pid: int) -> int:
        """Cap ``root_pid`` and every process under it; return how many were capped."""
        available()
        for pid in process_tree(root_pid):
            group = V1_CPU / f"{self._name}-{pid}"
            group.mkdir(exist_ok=True)
            self._groups.append(group)
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(round(self.cores * PERIOD_US)))
            with contextlib.suppress(ProcessLookupError, OSError):  # gone meanwhile
                (group / "cgroup.procs").write_text(str(pid))
        return len(self._groups)

    def throttling(self) -> Throttling:
        """The groups' periods and throttled periods so far, summed."""
        total = Throttling()
        for group in self._groups:
            with contextlib.suppress(OSError):
                stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
                total.periods += int(stat.get("nr_periods", 0))
                total.throttled += int(stat.get("nr_throttled", 0))
        return total

    def remove(self) -> None:
        """Remove the groups (their processes have exited; any left go back to the root)."""
        for group in self._groups:
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (V1_CPU / "cgroup.procs").write_text(pid)
                group.rmdir()
        self._groups.clear()
