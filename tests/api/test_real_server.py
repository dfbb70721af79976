"""The real thing: ``curiouscore serve`` in its own process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_health_and_the_spa_over_loopback(tmp_path: Path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        "ENV": "development",
        "LOG_LEVEL": "INFO",
    }
    env.pop("SECRET_KEY", None)
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, (
            server.stderr.read() if server.poll() is not None else "no answer"
        )
        assert health.status_code == 200
        assert health.json()["database"] == "connected"
        challenges = httpx.get(f"http://127.0.0.1:{port}/api/challenges", timeout=5).json()
        assert len(challenges) >= 4  # seeded on first run
    finally:
        server.terminate()
        try:
            _out, err = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            _out, err = server.communicate()
    assert '"message": "GET /health 200"' in err  # JSON request log
    assert "SECRET_KEY is missing or weak" in err
