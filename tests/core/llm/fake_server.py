"""A local fake of the three providers' HTTP APIs, served by uvicorn on 127.0.0.1 in a thread.

It speaks just enough of each API for the real SDKs: Anthropic ``POST /v1/messages``, OpenAI
``POST /v1/chat/completions`` and Gemini ``POST /v1[beta]/models/{model}:generateContent``. Tests
script replies per provider (a success, a status code with headers, a raw malformed body, a delay,
a refusal); when nothing is scripted it answers successfully, awarding every rubric item its
maximum. Every request is recorded (path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ANTHROPIC_MODEL = "claude-sonnet-4-6-20260217"
OPENAI_MODEL = "gpt-4.1-mini-2025-04-14"
GEMINI_MODEL = "gemini-2.5-flash-001"
EXACT_MODELS = {"anthropic": ANTHROPIC_MODEL, "openai": OPENAI_MODEL, "gemini": GEMINI_MODEL}
TOKENS_IN, TOKENS_OUT = 1200, 150
_RUBRIC = re.compile(r"<rubric>\n(.*?)\n</rubric>", re.DOTALL)


@dataclass
class Reply:
    """One scripted answer: ``body`` (a dict is sent as JSON, a str as-is) after ``delay`` s."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    text: str | None = None  # success with this text (narration, hint, or raw verdict JSON)
    verdict: dict[str, Any] | None = None  # success with this verdict
    refusal: bool = False


@dataclass
class Recorded:
    provider: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def system(self) -> str:
        if self.provider == "anthropic":
            return str(self.body.get("system", ""))
        if self.provider == "openai":
            return str(self.body["messages"][0]["content"])
        return str(self.body["systemInstruction"]["parts"][0]["text"])

    @property
    def user(self) -> str:
        if self.provider == "anthropic":
            return str(self.body["messages"][0]["content"])
        if self.provider == "openai":
            return str(self.body["messages"][-1]["content"])
        return str(self.body["contents"][0]["parts"][0]["text"])

    @property
    def model(self) -> str:
        if self.provider == "gemini":
            return self.path.split("/models/")[1].split(":")[0]
        return str(self.body["model"])

    @property
    def temperature(self) -> float | None:
        config = self.body.get("generationConfig", {}) if self.provider == "gemini" else self.body
        value = config.get("temperature")
        return None if value is None else float(value)

    @property
    def structured(self) -> bool:
        if self.provider == "anthropic":
            return "tools" in self.body
        if self.provider == "openai":
            return "response_format" in self.body
        return "responseSchema" in self.body.get("generationConfig", {})


def full_marks(user_prompt: str) -> dict[str, Any]:
    """A verdict giving every rubric item in the prompt its maximum."""
    match = _RUBRIC.search(user_prompt)
    rubric = json.loads(match.group(1)) if match else []
    return {
        "items": [
            {"id": item["id"], "points": item["max_points"], "feedback": "Well covered."}
            for item in rubric
        ],
        "feedback": "Great answer.",
        "rationale": "Every rubric item is addressed.",
        "instruction_attempt": False,
    }


def success_body(provider: str, recorded: Recorded, reply: Reply) -> dict[str, Any]:
    """The provider's success payload carrying ``reply``'s text or verdict."""
    structured = recorded.structured
    verdict = reply.verdict
    if structured and verdict is None and reply.text is None:
        verdict = full_marks(recorded.user)
    text = reply.text if reply.text is not None else "The path ahead opens. Onward, explorer!"
    if verdict is not None:
        text = json.dumps(verdict)
    model = EXACT_MODELS[provider]
    if provider == "anthropic":
        if reply.refusal:
            content: list[dict[str, Any]] = [{"type": "text", "text": "I can't help with that."}]
        elif structured and verdict is not None:
            content = [
                {"type": "tool_use", "id": "toolu_1", "name": "record_verdict", "input": verdict}
            ]
        else:
            content = [{"type": "text", "text": text}]
        stop = "refusal" if reply.refusal else ("tool_use" if verdict is not None else "end_turn")
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": TOKENS_IN, "output_tokens": TOKENS_OUT},
        }
    if provider == "openai":
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if reply.refusal:
            message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": TOKENS_IN,
                "completion_tokens": TOKENS_OUT,
                "total_tokens": TOKENS_IN + TOKENS_OUT,
            },
        }
    usage = {
        "promptTokenCount": TOKENS_IN,
        "candidatesTokenCount": TOKENS_OUT,
        "totalTokenCount": TOKENS_IN + TOKENS_OUT,
    }
    if reply.refusal:
        return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "fake-response",
    }


def error_body(provider: str, status: int) -> dict[str, Any]:
    if provider == "gemini":
        return {"error": {"code": status, "message": "fake failure", "status": "UNAVAILABLE"}}
    if provider == "anthropic":
        return {"type": "error", "error": {"type": "api_error", "message": "fake failure"}}
    return {"error": {"message": "fake failure", "type": "server_error", "code": None}}


class FakeLlmServer:
    """The fake APIs on a free loopback port, running in a background thread."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        # While set, grading requests (structured output) wait until this event is set.
        self.grading_gate: threading.Event | None = None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        app = Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/models/{rest:path}", self._gemini, methods=["POST"]),
                Route("/v1beta/models/{rest:path}", self._gemini, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="httptools",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="fake-llm", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeLlmServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def script(self, provider: str, *replies: Reply) -> None:
        """Queue replies for ``provider``; once used up, requests succeed by default."""
        with self._lock:
            self._scripts.setdefault(provider, deque()).extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.requests.clear()

    def calls(self, provider: str) -> list[Recorded]:
        return [r for r in self.requests if r.provider == provider]

    async def _anthropic(self, request: Request) -> Response:
        return await self._handle("anthropic", request)

    async def _openai(self, request: Request) -> Response:
        return await self._handle("openai", request)

    async def _gemini(self, request: Request) -> Response:
        return await self._handle("gemini", request)

    async def _handle(self, provider: str, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        recorded = Recorded(
            provider, request.url.path, {k.lower(): v for k, v in request.headers.items()}, body
        )
        with self._lock:
            self.requests.append(recorded)
            script = self._scripts.get(provider)
            reply = script.popleft() if script else Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        gate = self.grading_gate
        if gate is not None and recorded.structured:
            await asyncio.to_thread(gate.wait, 120)
        if reply.status != 200:
            payload = reply.body if reply.body is not None else error_body(provider, reply.status)
            return JSONResponse(payload, status_code=reply.status, headers=reply.headers)
        if isinstance(reply.body, str):
            return Response(reply.body, media_type="application/json", headers=reply.headers)
        payload = reply.body if reply.body is not None else success_body(provider, recorded, reply)
        return JSONResponse(payload, headers=reply.headers)
