"""What a call costs: a price table per model, in US dollars per million tokens in and out.

The defaults cover the default models of each provider and their close relatives; ``LLM_PRICES``
(JSON, e.g. ``{"my-model": {"input": 1.0, "output": 2.0}}``) adds or overrides entries. A model the
API reports with a dated suffix (``gpt-4.1-mini-2025-04-14``) is priced by its longest listed prefix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """US dollars per million tokens."""

    input: float
    output: float


DEFAULT_MODELS = {
    "anthropic": "claude-sonnet-4-6",
    "openai": "gpt-4.1-mini",
    "gemini": "gemini-2.5-flash",
}

DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-opus-4-6": ModelPrice(5.0, 25.0),
    "claude-opus-4-5": ModelPrice(5.0, 25.0),
    "claude-opus-4-1": ModelPrice(15.0, 75.0),
    "claude-sonnet-4-6": ModelPrice(3.0, 15.0),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0),
    "claude-sonnet-4": ModelPrice(3.0, 15.0),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0),
    "claude-3-5-haiku": ModelPrice(0.8, 4.0),
    "gpt-4.1": ModelPrice(2.0, 8.0),
    "gpt-4.1-mini": ModelPrice(0.4, 1.6),
    "gpt-4.1-nano": ModelPrice(0.1, 0.4),
    "gpt-4o": ModelPrice(2.5, 10.0),
    "gpt-4o-mini": ModelPrice(0.15, 0.6),
    "gemini-2.5-pro": ModelPrice(1.25, 10.0),
    "gemini-2.5-flash": ModelPrice(0.3, 2.5),
    "gemini-2.5-flash-lite": ModelPrice(0.1, 0.4),
    "gemini-2.0-flash": ModelPrice(0.1, 0.4),
}


class PriceTable:
    """Looks up a model's price (longest matching prefix) and computes a call's cost."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        self._prices = {**DEFAULT_PRICES, **(overrides or {})}
        self._warned: set[str] = set()

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model`` or of the longest listed prefix of it; None when unlisted."""
        best: str | None = None
        for name in self._prices:
            if model.startswith(name) and (best is None or len(name) > len(best)):
                best = name
        return None if best is None else self._prices[best]

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        """The cost in US dollars of a call; 0 (with one warning per model) when unpriced."""
        price = self.price(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("no price for llm model; cost recorded as 0", extra={"model": model})
            return 0.0
        return round((tokens_in * price.input + tokens_out * price.output) / 1_000_000, 8)
