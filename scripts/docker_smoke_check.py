"""The HTTP half of scripts/docker-smoke: play one step against a running CuriousCore over HTTP.

Waits for /health, then register -> create a session -> start -> continue the gate -> answer the
first single-choice step correctly, and checks the SPA and the event log. Standard library plus
PyYAML (to read the right answer from the challenge file). Every request has a timeout and the
wait for /health a deadline; exits non-zero naming the failed check.

    python scripts/docker_smoke_check.py http://127.0.0.1:8000 [--challenge challenges/x.yaml]
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 15.0


class SmokeFailure(Exception):
    """A check the running image did not pass."""


class Client:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.token: str | None = None
        self.timings: list[tuple[str, int, float]] = []

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, expect: int = 200
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        self.timings.append((f"{method} {path}", status, (time.perf_counter() - started) * 1000))
        if status != expect:
            raise SmokeFailure(f"{method} {path}: expected {expect}, got {status}: {raw[:500]!r}")
        if path == "/" or not raw:
            return raw.decode()
        return json.loads(raw)


def container_running(container: str) -> bool:
    state = subprocess.run(  # noqa: S603  (fixed argv, no shell)
        ["docker", "inspect", "-f", "{{.State.Running}}", container],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return state.stdout.strip() == "true"


def wait_for_health(
    client: Client, deadline_seconds: float, container: str | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_seconds
    last = "no answer yet"
    while time.monotonic() < deadline:
        if container is not None and not container_running(container):
            raise SmokeFailure(f"the container {container} exited before /health answered")
        try:
            with urllib.request.urlopen(client.base + "/health", timeout=2) as response:  # noqa: S310
                body: dict[str, Any] = json.loads(response.read())
                return body
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}: {error.read()[:200]!r}"
        except (OSError, ValueError) as error:
            last = str(error)
        time.sleep(0.5)
    raise SmokeFailure(f"/health did not answer 200 within {deadline_seconds:.0f}s ({last})")


def first_choice_step(challenge_file: Path) -> tuple[str, dict[str, Any]]:
    data = yaml.safe_load(challenge_file.read_text(encoding="utf-8"))
    step = next(s for s in data["steps"] if s["type"] == "mcq")
    return data["id"], step


def play(client: Client, challenge_file: Path) -> None:
    challenge_id, mcq = first_choice_step(challenge_file)
    email = f"docker-smoke-{secrets.token_hex(6)}@example.com"
    tokens = client.call(
        "POST",
        "/api/auth/register",
        {"email": email, "password": secrets.token_urlsafe(18), "display_name": "Docker Smoke"},
        expect=201,
    )
    client.token = tokens["access_token"]
    catalogue = client.call("GET", "/api/challenges")
    if challenge_id not in {c["id"] for c in catalogue}:
        raise SmokeFailure(f"{challenge_id} is not in the seeded catalogue")
    view = client.call("POST", "/api/sessions", {"challenge_id": challenge_id}, expect=201)
    session = view["session_id"]
    view = client.call("POST", f"/api/sessions/{session}/start")
    if view["status"] != "active":
        raise SmokeFailure(f"the started session is {view['status']}, not active")
    while view["ui_mode"] == "CONTINUE_GATE":
        view = client.call(
            "POST", f"/api/sessions/{session}/continue", {"step_id": view["step"]["id"]}
        )
    if view["step"]["id"] != mcq["id"]:
        raise SmokeFailure(f"expected step {mcq['id']}, the session is on {view['step']['id']}")
    right = next(i for i, choice in enumerate(mcq["choices"]) if choice.get("correct"))
    view = client.call(
        "POST", f"/api/sessions/{session}/answer", {"step_id": mcq["id"], "answer": right}
    )
    if view["progress"]["score"] != mcq["points"]:
        raise SmokeFailure(f"the right answer scored {view['progress']['score']}/{mcq['points']}")
    if view["step"] is None or view["step"]["id"] == mcq["id"]:
        raise SmokeFailure("the session did not move past the answered step")
    events = client.call("GET", f"/api/sessions/{session}/events")
    versions = [event["version"] for event in events]
    if versions != list(range(1, len(versions) + 1)):
        raise SmokeFailure(f"event versions are not contiguous from 1: {versions}")
    if not any(event["type"] == "AnswerGraded" for event in events):
        raise SmokeFailure(f"no AnswerGraded event in {[e['type'] for e in events]}")
    page = client.call("GET", "/")
    if "<script" not in page:
        raise SmokeFailure("GET / did not serve the SPA")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument(
        "--challenge", type=Path, default=ROOT / "challenges" / "python-functions.yaml"
    )
    parser.add_argument("--health-deadline", type=float, default=90.0)
    parser.add_argument("--container", help="fail at once when this Docker container exits")
    args = parser.parse_args()
    client = Client(args.base_url)
    try:
        started = time.perf_counter()
        health = wait_for_health(client, args.health_deadline, args.container)
        ready = time.perf_counter() - started
        if health.get("status") != "healthy" or health.get("database") != "connected":
            raise SmokeFailure(f"/health is not ok: {health}")
        print(f"/health ok after {ready:.1f}s: {health}")
        play(client, args.challenge)
    except SmokeFailure as failure:
        print(f"docker smoke FAILED: {failure}", file=sys.stderr)
        return 1
    print(f"{'request':<52} {'status':>6} {'ms':>8}")
    for name, status, ms in client.timings:
        print(f"{name:<52} {status:>6} {ms:>8.1f}")
    print("register -> session -> start -> continue -> answer round trip: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
