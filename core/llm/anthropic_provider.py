"""Anthropic through the official ``anthropic`` SDK (Messages API).

The task's temperature is sent (in the request body) to models that still accept one; newer models
reject sampling parameters and rely on the prompt alone. Evaluation forces a strict tool (``record_verdict``) whose input schema is the verdict schema, so the
verdict arrives as the tool's JSON input. ``ANTHROPIC_BASE_URL`` (or ``base_url``) points the SDK at
a gateway or a local test server. SDK retries are off: the orchestrator owns retries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anthropic

from core.llm.errors import (
    GraderError,
    LlmError,
    ProviderTimeout,
    ProviderUnavailable,
    for_status,
    retry_after_seconds,
)
from core.llm.pricing import PriceTable
from core.llm.prompts import VERDICT_TOOL, Prompt
from core.llm.remote import Completion, RemoteProvider

# Models released after Claude Opus 4.6 reject a temperature (400); older ones honour it.
SAMPLING_MODELS = (
    "claude-3",
    "claude-sonnet-4",
    "claude-haiku-4",
    "claude-opus-4-0",
    "claude-opus-4-1",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-2025",
)


def samples_with_temperature(model: str) -> bool:
    """Whether ``model`` accepts a sampling temperature (the task's is sent only then)."""
    return model.startswith(SAMPLING_MODELS)


class AnthropicProvider(RemoteProvider):
    """Claude models: narration and hints as text, evaluation through a strict tool."""

    name = "anthropic"

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
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_seconds
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _complete(self, prompt: Prompt) -> Completion:
        extra: dict[str, Any] = {}
        if samples_with_temperature(self.model):
            # SDK 1.0 dropped sampling parameters from the typed signature; the API still takes
            # them for models up to the 4.6 generation, through the request body.
            extra["extra_body"] = {"temperature": prompt.temperature}
        if prompt.schema is not None:
            extra["tools"] = [
                {
                    "name": VERDICT_TOOL,
                    "description": "Record the verdict: points and feedback per rubric item.",
                    "input_schema": prompt.schema,
                    "strict": True,
                }
            ]
            extra["tool_choice"] = {"type": "tool", "name": VERDICT_TOOL}
        try:
            message = await self._client.messages.create(
                model=self.model,
                max_tokens=prompt.max_tokens,
                system=prompt.system,
                messages=[{"role": "user", "content": prompt.user}],
                **extra,
            )
        except anthropic.APITimeoutError:
            raise ProviderTimeout("anthropic did not answer in time") from None
        except anthropic.APIConnectionError:
            raise ProviderUnavailable("anthropic could not be reached") from None
        except anthropic.APIStatusError as error:
            retry_after = retry_after_seconds(error.response.headers)
            raise for_status(error.status_code, self.name, retry_after) from None
        except anthropic.APIResponseValidationError:
            raise GraderError("anthropic returned a response that does not fit its API") from None
        except (ValueError, TypeError):
            raise GraderError("anthropic returned a malformed response") from None
        except anthropic.AnthropicError:
            raise LlmError("anthropic request failed") from None
        usage = message.usage
        completion = Completion(
            model=message.model,
            tokens_in=usage.input_tokens if usage else 0,
            tokens_out=usage.output_tokens if usage else 0,
            refused=message.stop_reason == "refusal",
        )
        if prompt.schema is not None:
            for block in message.content:
                if block.type == "tool_use" and block.name == VERDICT_TOOL:
                    data = block.input if isinstance(block.input, dict) else None
                    return replace(completion, data=data, text="" if data else str(block.input))
        text = "".join(block.text for block in message.content if block.type == "text")
        return replace(completion, text=text)
