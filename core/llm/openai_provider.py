"""OpenAI through the official ``openai`` SDK (Chat Completions).

Evaluation uses structured outputs: ``response_format`` with a strict JSON schema. A refusal comes
back in ``message.refusal`` and is reported as such. ``OPENAI_BASE_URL`` (or ``base_url``) points the
SDK at a gateway or a local test server. SDK retries are off: the orchestrator owns retries.
"""

from __future__ import annotations

from typing import Any

import openai

from core.llm.errors import (
    GraderError,
    LlmError,
    ProviderTimeout,
    ProviderUnavailable,
    for_status,
    retry_after_seconds,
)
from core.llm.pricing import PriceTable
from core.llm.prompts import Prompt
from core.llm.remote import Completion, RemoteProvider


class OpenAIProvider(RemoteProvider):
    """GPT models: narration and hints as text, evaluation as strict structured output."""

    name = "openai"

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
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_seconds
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _complete(self, prompt: Prompt) -> Completion:
        extra: dict[str, Any] = {}
        if prompt.schema is not None:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "strict": True, "schema": prompt.schema},
            }
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                temperature=prompt.temperature,
                max_completion_tokens=prompt.max_tokens,
                messages=[
                    {"role": "system", "content": prompt.system},
                    {"role": "user", "content": prompt.user},
                ],
                **extra,
            )
        except openai.APITimeoutError:
            raise ProviderTimeout("openai did not answer in time") from None
        except openai.APIConnectionError:
            raise ProviderUnavailable("openai could not be reached") from None
        except openai.APIStatusError as error:
            retry_after = retry_after_seconds(error.response.headers)
            raise for_status(error.status_code, self.name, retry_after) from None
        except openai.APIResponseValidationError:
            raise GraderError("openai returned a response that does not fit its API") from None
        except (ValueError, TypeError):
            raise GraderError("openai returned a malformed response") from None
        except openai.OpenAIError:
            raise LlmError("openai request failed") from None
        usage = response.usage
        if not response.choices:
            raise GraderError("openai returned no choices")
        message = response.choices[0].message
        return Completion(
            model=response.model,
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            text=message.content or "",
            refused=bool(message.refusal) or response.choices[0].finish_reason == "content_filter",
        )
