"""A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir, its own port) and an API server
subprocess, for tests that kill things. Nothing here touches the machine's PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = secrets.token_hex(32)  # production refuses a guessable key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    bindir: Path
    data: Path
    log: Path
    port: int
    run_as: list[str]

    def ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", *args],
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        self.ctl("-l", str(self.log), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "stop", check=False)

    def psql(self, sql: str) -> None:
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                sql,
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = Path(found[-1]) if found else (Path(p) if (p := shutil.which("initdb")) else None)
    if initdb is None:
        pytest.skip("no initdb here: the fault tests need PostgreSQL's server binaries")
    base = Path(tempfile.mkdtemp(prefix="cc-fault-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(initdb.parent, base / "data", base / "log", free_port(), run_as)
    subprocess.run(
        [*run_as, str(initdb), "-D", str(cluster.data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


class Server:
    """``curiouscore serve`` as a subprocess on a fixed loopback port."""

    def __init__(self, database_url: str, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "ENV": "production",
            "SECRET_KEY": SECRET,
            "LOG_LEVEL": "WARNING",
            "REGISTER_RATE_LIMIT_PER_HOUR": "100000",
            "LOGIN_RATE_LIMIT_PER_MINUTE": "100000",
            "CHALLENGES_DIR": str(ROOT / "challenges"),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                if self.health() == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become healthy within 60 s")

    def health(self) -> int:
        return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=6).status_code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown, no flushing, nothing
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    servers: list[Server] = []

    def make(database_url: str) -> Server:
        server = Server(database_url, free_port(), tmp_path)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
