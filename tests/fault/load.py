"""A bounded load generator for the fault tests, run in its own process.

``python -m tests.fault.load --port P --learners N --seconds S --out FILE`` plays the
python-functions challenge's choice steps with N learners until S seconds have passed, retrying
through errors and outages (or until ``--stop-file`` exists). Every write acknowledged with a 2xx is
appended to FILE as a JSON line with its ``op`` (flushed at once, so a line exists only for an answer
the client really received), every non-2xx answer as a line with its ``status``; every response's
status is counted, and the counts are the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import httpx

from core.content import load_challenge_file

ROOT = Path(__file__).resolve().parents[2]
CHALLENGE = "python-functions"


def right_answers() -> dict[str, object]:
    answers: dict[str, object] = {}
    for step in load_challenge_file(ROOT / "challenges" / f"{CHALLENGE}.yaml").steps:
        if step.type == "mcq":
            answers[step.id] = next(i for i, c in enumerate(step.choices) if c.correct)
        elif step.type == "multi":
            answers[step.id] = [i for i, c in enumerate(step.choices) if c.correct]
        elif step.type == "true_false":
            answers[step.id] = step.answer
    return answers


class Run:
    def __init__(
        self, base: str, deadline: float, out: IO[str], stop_file: Path | None = None
    ) -> None:
        self.base, self.deadline, self.out = base, deadline, out
        self.stop_file = stop_file
        self.statuses: Counter[str] = Counter()

    def going(self) -> bool:
        """Until the deadline, or until the test creates the stop file (whichever comes first)."""
        if self.stop_file is not None and self.stop_file.exists():
            return False
        return time.monotonic() < self.deadline

    def refusal(self, status: int) -> None:
        """A non-2xx answer, as a line of its own (``status``), so a test can wait for one."""
        self.out.write(json.dumps({"status": status, "t": time.time()}) + "\n")
        self.out.flush()

    def ack(self, op: str, session_id: str, step_id: str | None = None) -> None:
        line = {"op": op, "session_id": session_id, "step_id": step_id, "t": time.time()}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    async def call(
        self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Any]:
        try:
            response = await client.request(method, self.base + path, timeout=10, **kwargs)
        except httpx.TransportError:
            self.statuses["transport"] += 1
            await asyncio.sleep(0.2)
            return 0, None
        self.statuses[str(response.status_code)] += 1
        if response.status_code >= 300:
            self.refusal(response.status_code)
            await asyncio.sleep(0.1)
            return response.status_code, None
        return response.status_code, response.json()

    async def learner(self, index: int, answers: dict[str, object]) -> None:
        async with httpx.AsyncClient() as client:
            headers: dict[str, str] = {}
            body = {
                "email": f"fault{index}-{secrets.token_hex(4)}@example.com",
                "password": "fault test passphrase",
                "display_name": f"Fault {index}",
            }
            while not headers and self.going():
                status, data = await self.call(client, "POST", "/api/auth/register", json=body)
                if status == 409:  # registered before an outage cut the answer off
                    status, data = await self.call(client, "POST", "/api/auth/login", json=body)
                if data:
                    headers = {"Authorization": f"Bearer {data['access_token']}"}
            session: str | None = None
            while self.going():
                if session is None:
                    _, data = await self.call(
                        client,
                        "POST",
                        "/api/sessions",
                        json={"challenge_id": CHALLENGE},
                        headers=headers,
                    )
                    if data:
                        session = data["session_id"]
                        self.ack("create", session)
                    continue
                path = f"/api/sessions/{session}"
                _, view = await self.call(client, "GET", path, headers=headers)
                if view is None:
                    continue
                if view["status"] == "created":
                    _, done = await self.call(client, "POST", f"{path}/start", headers=headers)
                    if done:
                        self.ack("start", session)
                    continue
                step = view.get("step")
                if not step or step["kind"] not in ("gate", "mcq", "multi", "true_false"):
                    session = None  # the first chat step ends the round
                    continue
                key = {**headers, "Idempotency-Key": secrets.token_hex(8)}
                if step["kind"] == "gate":
                    op, url, payload = "continue", f"{path}/continue", {"step_id": step["id"]}
                else:
                    op, url = "answer", f"{path}/answer"
                    payload = {"step_id": step["id"], "answer": answers[step["id"]]}
                _, done = await self.call(client, "POST", url, json=payload, headers=key)
                if done:
                    self.ack(op, session, step["id"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--learners", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stop-file", type=Path, default=None)
    args = parser.parse_args()
    answers = right_answers()
    with args.out.open("w", encoding="utf-8") as out:
        deadline = time.monotonic() + args.seconds
        run = Run(f"http://127.0.0.1:{args.port}", deadline, out, args.stop_file)
        await asyncio.gather(*(run.learner(i, answers) for i in range(args.learners)))
        out.write(json.dumps({"statuses": dict(run.statuses), "t": time.time()}) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
