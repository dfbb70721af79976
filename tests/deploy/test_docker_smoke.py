"""scripts/docker-smoke's contract with CI: skip (exit 0) and say why when no Docker engine can
start and --if-available is given; otherwise fail. The image build and run themselves need a Docker
engine and run from scripts/test (see docs/deploy.md), not here."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("bash", "dirname", "sha256sum", "cut", "date", "awk", "id", "timeout", "seq", "sleep")


@pytest.fixture
def path_without_docker(tmp_path: Path) -> str:
    """A PATH with the shell tools the script needs and a docker client that reaches no engine."""
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (tmp_path / tool).symlink_to(found)
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    return str(tmp_path)


def run_smoke(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "docker-smoke"), *args],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_smoke_is_skipped_with_the_reason_when_docker_cannot_start(
    path_without_docker: str,
) -> None:
    result = run_smoke(path_without_docker, "--if-available")
    assert result.returncode == 0, result.stderr
    assert "docker smoke test SKIPPED: " in result.stdout
    assert "dockerd is not installed" in result.stdout


def test_smoke_fails_without_docker_unless_asked_to_skip(path_without_docker: str) -> None:
    result = run_smoke(path_without_docker)
    assert result.returncode == 2
    assert "docker smoke test cannot run: " in result.stderr
    assert "SKIPPED" not in result.stdout


def test_ci_runs_the_smoke_test_after_the_suite() -> None:
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    assert "scripts/docker-smoke --if-available" in script
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith("bash scripts/test")
