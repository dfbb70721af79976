"""Gemini through the official ``google-genai`` SDK (``generateContent``).

The system prompt goes in ``system_instruction`` (Gemini's way, not a chat turn); evaluation asks
for ``application/json`` with a ``response_schema``. A blocked prompt or a safety stop is a refusal.
``GEMINI_BASE_URL`` / ``GOOGLE_GEMINI_BASE_URL`` (or ``base_url``) points the SDK at a gateway or a
local test server. SDK retries are off: the orchestrator owns retries.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2
from google import genai
from google.genai import errors, types

from core.llm.errors import (
    GraderError,
    ProviderTimeout,
    ProviderUnavailable,
    for_status,
    retry_after_seconds,
)
from core.llm.pricing import PriceTable
from core.llm.prompts import Prompt
from core.llm.remote import Completion, RemoteProvider

REFUSALS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


class GeminiProvider(RemoteProvider):
    """Gemini models: narration and hints as text, evaluation as schema-constrained JSON."""

    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        prices: PriceTable,
        timeout_seconds: float,
        base_url: str | None = None,
    ) -> None:
        super().__init__(model=model, prices=prices, timeout_seconds=timeout_seconds)
        # Our own httpx2 client (the SDK's transport), rather than the SDK's aiohttp session:
        # one connection pool we close ourselves, and httpx2's exceptions to map.
        self._http = httpx2.AsyncClient(timeout=timeout_seconds)
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=max(1, round(timeout_seconds * 1000)),
                retry_options=types.HttpRetryOptions(attempts=1),
                httpx_async_client=self._http,
            ),
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        await self._http.aclose()

    async def _complete(self, prompt: Prompt) -> Completion:
        config = types.GenerateContentConfig(
            system_instruction=prompt.system,
            temperature=prompt.temperature,
            max_output_tokens=prompt.max_tokens,
        )
        if prompt.schema is not None:
            config.response_mime_type = "application/json"
            config.response_schema = gemini_schema(prompt.schema)
        try:
            response = await self._client.aio.models.generate_content(
                model=self.model, contents=prompt.user, config=config
            )
        except errors.APIError as error:
            raise for_status(error.code, self.name, _retry_after(error)) from None
        except httpx2.TimeoutException:
            raise ProviderTimeout("gemini did not answer in time") from None
        except httpx2.TransportError:
            raise ProviderUnavailable("gemini could not be reached") from None
        except (ValueError, TypeError):
            raise GraderError("gemini returned a malformed response") from None
        usage = response.usage_metadata
        candidate = response.candidates[0] if response.candidates else None
        blocked = response.prompt_feedback is not None and bool(
            response.prompt_feedback.block_reason
        )
        finish = candidate.finish_reason.value if candidate and candidate.finish_reason else ""
        parts = candidate.content.parts if candidate and candidate.content else None
        text = "".join(part.text for part in parts or [] if part.text and not part.thought)
        return Completion(
            model=response.model_version or self.model,
            tokens_in=(usage.prompt_token_count or 0) if usage else 0,
            tokens_out=(usage.candidates_token_count or 0) if usage else 0,
            text=text,
            refused=blocked or finish in REFUSALS,
        )


def gemini_schema(schema: dict[str, Any]) -> types.Schema:
    """The verdict's JSON schema as a Gemini ``Schema`` (no ``additionalProperties``; ordered)."""
    kind = str(schema["type"]).upper()
    properties = schema.get("properties")
    return types.Schema(
        type=types.Type(kind),
        enum=schema.get("enum"),
        properties=(
            {name: gemini_schema(sub) for name, sub in properties.items()} if properties else None
        ),
        required=schema.get("required"),
        property_ordering=list(properties) if properties else None,
        items=gemini_schema(schema["items"]) if "items" in schema else None,
    )


def _retry_after(error: errors.APIError) -> float | None:
    headers = getattr(error.response, "headers", None)
    seconds = retry_after_seconds(dict(headers.items()) if headers else None)
    if seconds is not None:
        return seconds
    # The Gemini API puts the delay in a google.rpc.RetryInfo detail ("retryDelay": "7s").
    details = error.details if isinstance(error.details, dict) else {}
    inner = details.get("error", details)
    for detail in inner.get("details", []) if isinstance(inner, dict) else []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        match = _DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None
