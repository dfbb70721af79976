"""``curiouscore serve --workers N``: a listening socket per worker (SO_REUSEPORT), a worker that
dies is replaced, a graceful stop ends them all, and a port already taken stops the start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.waiting import until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

LISTEN, ESTABLISHED = "0A", "01"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def socket_owners(port: int, state: str, pids: list[int]) -> list[int]:
    """For each socket on local ``port`` in ``state``, the pid (among ``pids``) holding it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    owners = []
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    owners.append(pid)
        except OSError:
            continue  # gone meanwhile
    return owners


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        "ENV": "development",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    env.pop("WEB_CONCURRENCY", None)
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield server, port
    finally:
        workers = children(server.pid)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        server.communicate(timeout=30)


async def listeners(server: subprocess.Popen[str], port: int, count: int) -> list[int]:
    """Wait until ``count`` of the server's children each listen on ``port``; their pids."""

    def listening() -> list[int]:
        owners = socket_owners(port, LISTEN, children(server.pid))
        return sorted(owners) if len(set(owners)) == count else []

    return await until(listening, f"{count} workers listening on {port}")


async def test_each_worker_listens_on_its_own_socket_and_takes_connections(served):
    server, port = served
    workers = await listeners(server, port, 2)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await until(lambda: _health(client), "the workers answering /health", within=60)
        assert response.json()["database"] == "connected"
    # Forty keep-alive connections: the kernel hashes each to one socket, so both workers get
    # some (all forty on one worker would be a 2**-39 coincidence, or a shared socket).
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") for _ in range(40)]
    try:
        for client in clients:
            assert (await client.get("/livez")).status_code == 200
        owners = await until(
            lambda: (
                (found := socket_owners(port, ESTABLISHED, workers)) and len(found) == 40 and found
            ),
            "forty connections held by the workers",
        )
        assert set(owners) == set(workers)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


async def test_a_worker_that_dies_is_replaced_and_a_stop_ends_them_all(served):
    server, port = served
    first, _ = await listeners(server, port, 2)
    os.kill(first, signal.SIGKILL)
    await until(
        lambda: (
            first not in socket_owners(port, LISTEN, children(server.pid))
            and len(set(socket_owners(port, LISTEN, children(server.pid)))) == 2
        ),
        "a new worker listening in place of the killed one",
    )
    workers = children(server.pid)
    server.send_signal(signal.SIGTERM)
    await until(lambda: server.poll() is not None, "the server's exit")
    assert server.returncode == 0
    assert not [pid for pid in workers if _alive(pid)]


async def test_workers_stop_when_the_parent_is_killed(served):
    server, port = served
    workers = await listeners(server, port, 2)
    server.kill()  # no graceful stop: the kernel tells each worker its parent died
    await until(lambda: not [pid for pid in workers if _alive(pid)], "the workers' exit")


def test_a_port_already_taken_stops_every_worker(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'taken.db'}")
    monkeypatch.setenv("ENV", "development")
    monkeypatch.delenv("REDIS_URL", raising=False)
    with socket.socket() as taken:  # no SO_REUSEPORT: nobody else may bind the port
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "2"]
        result = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "could not start" in result.stdout + result.stderr


def test_several_workers_without_redis_are_refused_with_a_real_llm(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'llm.db'}")
    monkeypatch.setenv("ENV", "development")
    monkeypatch.setenv("LLM_PROVIDER", "anthropic")
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(app, ["serve", "--port", "1", "--workers", "2"])
    assert result.exit_code == 2
    assert "REDIS_URL" in result.output


async def _health(client: httpx.AsyncClient) -> httpx.Response | None:
    try:
        response = await client.get("/health")
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None


def _alive(pid: int) -> bool:
    """True unless ``pid`` is gone or a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
