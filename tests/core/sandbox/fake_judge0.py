"""A local fake Judge0 CE server: the parts of its HTTP API the runner uses, on 127.0.0.1.

``POST /submissions?base64_encoded=true&wait=true`` decodes the Python source and stdin, runs them
with the wall-time limit and answers with Judge0's shape (base64 stdout/stderr, status id 3
"Accepted" or 5 "Time Limit Exceeded"). ``GET /about`` answers like Judge0's.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from typing import Any

from aiohttp import web


class FakeJudge0:
    def __init__(self) -> None:
        self.submissions: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/about", self.about)
        app.router.add_post("/submissions", self.submit)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def about(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "1.13.1", "homepage": "https://judge0.com"})

    async def submit(self, request: web.Request) -> web.Response:
        if self.fail_with is not None:
            return web.json_response({"error": "down"}, status=self.fail_with)
        assert request.query.get("base64_encoded") == "true" and request.query.get("wait") == "true"
        body = await request.json()
        self.submissions.append(body)
        source = base64.b64decode(body["source_code"]).decode()
        stdin = base64.b64decode(body["stdin"])
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", source,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            stdout, stderr = await asyncio.wait_for(
                process.communicate(stdin), float(body["wall_time_limit"])
            )
            status = {"id": 3, "description": "Accepted"}
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
            status = {"id": 5, "description": "Time Limit Exceeded"}
        return web.json_response(
            {
                "stdout": base64.b64encode(stdout).decode(),
                "stderr": base64.b64encode(stderr).decode(),
                "status": status,
                "time": "0.05",
                "memory": 9000,
            }
        )
