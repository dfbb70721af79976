"""Building providers from the settings: the default one (``LLM_PROVIDER``/``LLM_MODEL``) and any a
challenge file asks for (``llm: {provider, model}``).

SDKs are imported only when their provider is built, so the offline default needs none of them.
"""

from __future__ import annotations

from core.config import Settings
from core.llm.base import LlmProvider
from core.llm.errors import ProviderConfigError
from core.llm.offline import OfflineProvider
from core.llm.pricing import DEFAULT_MODELS, ModelPrice, PriceTable

PROVIDER_NAMES = ("offline", "anthropic", "openai", "gemini")
KEY_VARIABLES = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
}
INSTALL_HINT = 'pip install "curiouscore[llm]"'


def price_table(settings: Settings) -> PriceTable:
    """The default price table with ``LLM_PRICES`` applied on top."""
    overrides = {name: ModelPrice(p.input, p.output) for name, p in settings.llm_prices.items()}
    return PriceTable(overrides)


class ProviderFactory:
    """Builds each (provider, model) once and hands out the same instance afterwards."""

    def __init__(self, settings: Settings, prices: PriceTable | None = None) -> None:
        self._settings = settings
        self.prices = prices or price_table(settings)
        self._built: dict[tuple[str, str], LlmProvider] = {}

    def model_for(self, name: str, model: str | None) -> str:
        """The model to use: the one asked for, else ``LLM_MODEL`` for the default provider,
        else the provider's default model."""
        if model:
            return model
        if name == self._settings.llm_provider and self._settings.llm_model:
            return self._settings.llm_model
        return DEFAULT_MODELS.get(name, "offline-rubric-1")

    def default(self) -> LlmProvider:
        """The provider named by ``LLM_PROVIDER``; raise ProviderConfigError when it cannot work."""
        return self.get(self._settings.llm_provider, None)

    def get(self, name: str, model: str | None) -> LlmProvider:
        """The provider ``name`` with ``model`` (or its default); built on first use."""
        if name not in PROVIDER_NAMES:
            raise ProviderConfigError(
                f"unknown LLM provider {name!r}; use one of {', '.join(PROVIDER_NAMES)}"
            )
        resolved = self.model_for(name, model)
        key = (name, resolved)
        if key not in self._built:
            self._built[key] = self._build(name, resolved)
        return self._built[key]

    async def aclose(self) -> None:
        """Close every SDK client built so far."""
        for provider in self._built.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()
        self._built.clear()

    def _build(self, name: str, model: str) -> LlmProvider:
        settings = self._settings
        if name == "offline":
            return OfflineProvider()
        secret = getattr(settings, f"{name}_api_key")
        api_key = secret.get_secret_value().strip() if secret is not None else ""
        if not api_key:
            raise ProviderConfigError(
                f"LLM provider {name!r} needs an API key: set {KEY_VARIABLES[name]} "
                "(or use LLM_PROVIDER=offline, the default, which needs none)"
            )
        timeout = settings.llm_timeout_seconds
        try:
            if name == "anthropic":
                from core.llm.anthropic_provider import AnthropicProvider

                return AnthropicProvider(
                    api_key=api_key,
                    model=model,
                    prices=self.prices,
                    timeout_seconds=timeout,
                    base_url=settings.anthropic_base_url,
                )
            if name == "openai":
                from core.llm.openai_provider import OpenAIProvider

                return OpenAIProvider(
                    api_key=api_key,
                    model=model,
                    prices=self.prices,
                    timeout_seconds=timeout,
                    base_url=settings.openai_base_url,
                )
            from core.llm.gemini_provider import GeminiProvider

            return GeminiProvider(
                api_key=api_key,
                model=model,
                prices=self.prices,
                timeout_seconds=timeout,
                base_url=settings.gemini_base_url,
            )
        except ImportError as error:
            raise ProviderConfigError(
                f"LLM provider {name!r} needs its SDK ({error.name}); install it with "
                f"{INSTALL_HINT}"
            ) from None
