"""Provider-neutral failures: each SDK's exceptions are mapped onto these by its provider module.

The orchestrator retries only what is worth retrying (rate limits, server errors, timeouts) and
falls back to the offline provider for everything else. Messages never carry a key or a provider's
raw error text, so they are safe to log.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.engine.events import LlmTrace


class LlmError(Exception):
    """A provider task failed; ``trace`` is set when tokens were spent before it failed."""

    outcome = "error"
    retryable = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, trace: LlmTrace | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.trace = trace


class ProviderUnavailable(LlmError):
    """A server error (5xx) or a connection failure: worth another try."""

    outcome = "unavailable"
    retryable = True


class RateLimited(ProviderUnavailable):
    """HTTP 429 (or a local rate limit that cannot be met before the deadline)."""

    outcome = "rate_limited"


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer in time."""

    outcome = "timeout"


class ProviderRejected(LlmError):
    """A 4xx other than 429 (bad key, bad request): retrying cannot help."""

    outcome = "rejected"


class Refused(LlmError):
    """The model declined the task (a refusal or a safety block)."""

    outcome = "refused"


class GraderError(LlmError):
    """The verdict could not be parsed or broke the schema (an out-of-range score, an unknown
    rubric item). Counted separately; never a pass."""

    outcome = "grader_error"


class ProviderConfigError(ValueError):
    """A provider cannot be built from the configuration (e.g. its API key is missing)."""


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``retry-after`` (seconds), if given.

    An HTTP-date form is ignored (the orchestrator's own backoff applies instead).
    """
    if not headers:
        return None
    headers = {name.lower(): value for name, value in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def for_status(status: int, provider: str, retry_after: float | None = None) -> LlmError:
    """The error for an HTTP status answered by ``provider``."""
    if status == 429:
        return RateLimited(f"{provider} rate-limited the request (429)", retry_after=retry_after)
    if status >= 500:
        return ProviderUnavailable(
            f"{provider} answered with a server error ({status})", retry_after=retry_after
        )
    return ProviderRejected(f"{provider} rejected the request ({status})")
