"""``CODE_RUNNER=judge0``: runs go to a Judge0 CE server (``JUDGE0_URL``) through its HTTP API.

The same harness runs there as a Python submission (language 71, Python 3.8 in Judge0 CE) with the
job on stdin; Judge0's own isolate sandbox applies the CPU, wall-clock and memory limits. One
``POST /submissions?base64_encoded=true&wait=true`` per run.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from core.sandbox.models import CodeJob, RunnerError, RunResult, RunStatus, SandboxUnavailable
from core.sandbox.process import OUTPUT_LIMIT, assemble, harness_source, job_payload, parse_output

PYTHON_LANGUAGE_ID = 71
TIME_LIMIT_EXCEEDED = 5
HTTP_TIMEOUT_GRACE = 10.0


def _b64(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


class Judge0Runner:
    name = "judge0"

    def __init__(
        self, url: str, *, token: str | None = None, language_id: int = PYTHON_LANGUAGE_ID
    ) -> None:
        try:
            import httpx
        except ImportError as error:  # pragma: no cover - the judge0 extra is missing
            raise SandboxUnavailable(
                "CODE_RUNNER=judge0 needs httpx: install curiouscore[judge0]"
            ) from error
        headers = {"X-Auth-Token": token} if token else {}
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers)
        self._httpx = httpx
        self._language_id = language_id

    async def check(self) -> None:
        try:
            response = await self._client.get("/about", timeout=5.0)
            response.raise_for_status()
        except self._httpx.HTTPError as error:
            raise SandboxUnavailable(
                f"code steps cannot run: the Judge0 server at {self._client.base_url} is not "
                f"answering ({type(error).__name__}). Check JUDGE0_URL and that the server is up."
            ) from None

    async def run(self, job: CodeJob) -> RunResult:
        marker, payload = job_payload(job)
        body = {
            "source_code": _b64(harness_source()),
            "language_id": self._language_id,
            "stdin": _b64(payload),
            "cpu_time_limit": job.time_limit_seconds,
            "wall_time_limit": job.time_limit_seconds + 1,
            "memory_limit": (job.memory_limit_mb + 48) * 1024,
            "enable_network": False,
        }
        started = time.monotonic()
        try:
            response = await self._client.post(
                "/submissions",
                params={"base64_encoded": "true", "wait": "true"},
                json=body,
                timeout=job.time_limit_seconds + HTTP_TIMEOUT_GRACE,
            )
            response.raise_for_status()
            data: dict[str, Any] = response.json()
        except (self._httpx.HTTPError, ValueError) as error:
            raise RunnerError(f"Judge0 request failed: {type(error).__name__}: {error}") from None
        duration_ms = round((time.monotonic() - started) * 1000)
        stdout = base64.b64decode(data.get("stdout") or "")[:OUTPUT_LIMIT]
        stderr = base64.b64decode(data.get("stderr") or "")
        status_id = (data.get("status") or {}).get("id")
        outcomes, done = parse_output(job, marker, stdout)
        status: RunStatus = done or "crashed"
        if status_id == TIME_LIMIT_EXCEEDED:
            status = "timeout"
        return assemble(job, outcomes, status, duration_ms, self.name, stderr)

    async def aclose(self) -> None:
        await self._client.aclose()
