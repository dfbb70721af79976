"""Where a benchmark run's CPU went (Linux ``/proc``): the server's processes, the load generator
(this process), the PostgreSQL backends serving the benchmark's database, and the machine as a
whole.

On a 2-core machine the load generator, PostgreSQL and every server worker share the same cores,
so a second worker can only show its gain while the machine has idle CPU left: these figures let a
reader judge that (a machine busy ~100 % of the play phase means the ratio measures the machine,
not the server).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
# A backend's title: "postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE" (Debian names the
# cluster, e.g. "15/main:").
_BACKEND = re.compile(r"postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\]) ")


@dataclass(frozen=True)
class _Process:
    parent: int
    cpu: float  # user + system seconds
    title: str


def _processes() -> dict[int, _Process]:
    found: dict[int, _Process] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        found[int(entry.name)] = _Process(
            int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, title
        )
    return found


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def _descends_from(pid: int, root: int, processes: dict[int, _Process]) -> int | None:
    """The child of ``root`` that ``pid`` descends from (``root`` itself for root), else None."""
    child, ancestor = pid, pid
    while ancestor not in (root, 0, 1) and ancestor in processes:
        child, ancestor = ancestor, processes[ancestor].parent
    if ancestor != root:
        return None
    return root if pid == root else child


@dataclass
class CpuSample:
    """CPU counters at one moment."""

    at: float
    machine: tuple[int, int]
    generator: float
    server: dict[int, float]  # the server's root process and each child's subtree, by pid
    postgres: dict[int, float]  # the backends connected to the benchmark's database, by pid


def sample(server_pid: int | None, database: str | None) -> CpuSample:
    """Read the counters now: ``server_pid`` and its descendants, PostgreSQL backends whose
    process title names ``database``."""
    processes = _processes()
    server: dict[int, float] = {}
    postgres: dict[int, float] = {}
    for pid, process in processes.items():
        if server_pid is not None:
            branch = _descends_from(pid, server_pid, processes)
            if branch is not None:
                server[branch] = server.get(branch, 0.0) + process.cpu
                continue
        backend = _BACKEND.match(process.title) if database else None
        if backend is not None and backend[1] == database:
            postgres[pid] = process.cpu
    times = os.times()
    return CpuSample(
        time.monotonic(), _machine_jiffies(), times.user + times.system, server, postgres
    )


@dataclass
class CpuUse:
    """CPU seconds spent between two samples."""

    seconds: float
    server: float
    generator: float
    postgres: float
    machine_busy: float  # share of all cores busy (every process on the machine), 0–1
    cores: int
    workers: list[float] = field(default_factory=list)  # per server child process, largest first
    connections: list[int] = field(default_factory=list)  # clients held per server process

    def per_request(self, part: float, requests: int) -> float:
        """Milliseconds of ``part`` per request."""
        return part * 1000 / max(requests, 1)

    def share_of_machine(self, part: float) -> float:
        """``part`` as a share of every core's time over the interval, 0–1."""
        return part / max(self.seconds * self.cores, 1e-9)

    def worker_split(self) -> str:
        """The server processes' shares of its CPU, e.g. ``52/48 %`` (empty for one process)."""
        total = sum(self.workers)
        shares = [w / total for w in self.workers if total and w / total >= 0.05]
        if len(shares) < 2:
            return ""
        return "/".join(f"{100 * s:.0f}" for s in shares) + " %"


def _sockets(port: int, state: str) -> set[str]:
    """The inodes of the TCP sockets on local ``port`` in ``state`` (01 established, 0A listen)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                    inodes.add(fields[9])
    return inodes


def process_tree(root: int) -> list[int]:
    """``root`` and every process descending from it, ``root`` first."""
    processes = _processes()
    tree = [pid for pid in processes if _descends_from(pid, root, processes) is not None]
    return sorted(tree, key=lambda pid: pid != root)


def _held_sockets(server_pid: int, port: int, state: str) -> dict[int, set[str]]:
    """The socket inodes on ``port`` in TCP ``state`` each of the server's processes holds."""
    inodes = _sockets(port, state)
    held: dict[int, set[str]] = {}
    for pid in process_tree(server_pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held.setdefault(pid, set()).add(target[8:-1])
    return held


def listening_sockets(server_pid: int, port: int) -> int:
    """How many distinct sockets listen on ``port`` in the server's processes (one per worker
    with ``SO_REUSEPORT``; one shared by all with uvicorn's ``--workers``)."""
    return len(set().union(*_held_sockets(server_pid, port, "0A").values()))


def connections_by_worker(server_pid: int, port: int) -> list[int]:
    """How many established connections on ``port`` each of the server's processes holds,
    largest first (how evenly the kernel spread the clients)."""
    held = _held_sockets(server_pid, port, "01")
    return sorted((len(sockets) for sockets in held.values()), reverse=True)


def between(before: CpuSample, after: CpuSample) -> CpuUse:
    """What was spent from ``before`` to ``after``; a backend that exited meanwhile is missed (so
    the benchmark also reports how many connections PostgreSQL opened)."""
    busy = after.machine[0] - before.machine[0]
    total = after.machine[1] - before.machine[1]
    branches = {pid: cpu - before.server.get(pid, 0.0) for pid, cpu in after.server.items()}
    postgres = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
    return CpuUse(
        seconds=after.at - before.at,
        server=sum(branches.values()),
        generator=after.generator - before.generator,
        postgres=postgres,
        machine_busy=busy / total if total else 0.0,
        cores=os.cpu_count() or 1,
        workers=sorted(branches.values(), reverse=True),
    )
