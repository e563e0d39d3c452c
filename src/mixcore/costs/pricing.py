"""Price arithmetic: catalog prices (USD per 1M tokens) × reported or estimated token usage.

Besides what a call cost, this says the most it could cost (`CallBounds`): the prompt no more than
the bound over every field the provider receives (providers/tokens.py), the answer no more than the
output cap sent, times the choices asked for. Budgets reserve that much before a call. What a call is
charged is what its provider reports: usage beyond the bounds is billed as reported and flagged, never
replaced by a smaller estimate; an estimate only stands in for usage that is missing or malformed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from mixcore.catalog.models import CatalogModel, Price
from mixcore.providers.tokens import request_token_bound
from mixcore.providers.types import Usage

MILLION = 1_000_000
# The cap sent, with no client cap, to a model whose output limit the catalog does not know: a provider refuses
# a cap above its model's limit, and most models answer in far fewer tokens.
UNKNOWN_LIMIT_CAP = 8_192
OUTPUT_CAPS = ("max_completion_tokens", "max_tokens")  # the first one set is the cap (what a budget reserves)


def output_cap(params: dict[str, Any]) -> int | None:
    """The output cap a request asks for: max_completion_tokens, else max_tokens."""
    for name in OUTPUT_CAPS:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def call_cost(price: Price | None, usage: Usage) -> float | None:
    """USD for one call, or None when the price is unknown (never a silent zero).

    Every token class at its own rate: fresh prompt tokens, cache reads, cache writes, answer and (when
    priced apart) reasoning tokens, all at the long-context tier once the prompt is past its threshold.
    """
    if price is None:
        return None
    rates = price.tier(usage.prompt_tokens)
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    fresh = usage.prompt_tokens - cached - written
    cached_rate = rates.cached_input if rates.cached_input is not None else rates.input
    write_rate = rates.cache_write if rates.cache_write is not None else rates.input
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens) if price.reasoning_output is not None else 0
    return (fresh * rates.input + cached * cached_rate + written * write_rate
            + (usage.completion_tokens - reasoning) * rates.output
            + reasoning * (price.reasoning_output or 0.0)) / MILLION


def catalog_price(model: CatalogModel | None) -> tuple[Price | None, str | None]:
    """The price to use for a model and, when there is none, why."""
    if model is None:
        return None, "model not in catalog"
    if model.price is None:
        return None, model.unpriced or "catalog has no price for this model"
    return model.price, None


@dataclass(frozen=True)
class CallBounds:
    """The most tokens one call can be billed for, each way, and the output cap per choice that gives it."""

    prompt_tokens: int
    completion_tokens: int
    cap: int = 0  # the output cap sent upstream (per choice, a thinking budget not included)
    choices: int = 1
    thinking: int = 0

    def max_cost(self, price: Price) -> float:
        return (self.prompt_tokens * price.highest_input()
                + self.completion_tokens * price.highest_output()) / MILLION

    def with_cap(self, cap: int) -> CallBounds:
        return replace(self, cap=cap, completion_tokens=(cap + self.thinking) * self.choices)

    def affordable_cap(self, price: Price, room_usd: float) -> int:
        """The largest output cap whose call fits in `room_usd` (0 or less when not even the prompt does)."""
        per_token = price.highest_output()
        if per_token <= 0:
            return self.cap
        left = room_usd * MILLION - self.prompt_tokens * price.highest_input()
        return min(self.cap, math.floor(left / (per_token * self.choices)) - self.thinking)


def call_bounds(params: dict[str, Any], model: CatalogModel | None, gateway_cap: int) -> CallBounds:
    """What one call with these parameters can be billed for at most: the whole request as the prompt, and the
    output cap (the client's, else the model's limit, else `UNKNOWN_LIMIT_CAP`) plus any thinking budget, per
    choice."""
    n = params.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    # A thinking budget is added to the answer's room (the Anthropic adapter raises max_tokens by it).
    thinking = model.settings.budget_tokens or 0 if model is not None and model.settings is not None else 0
    cap = output_cap(params)
    if cap is None:  # the cap sent: the model's limit with room for the thinking budget inside it
        limit = model.max_output_tokens if model is not None and model.max_output_tokens else UNKNOWN_LIMIT_CAP
        cap = max(1, min(limit, gateway_cap) - thinking)
    return CallBounds(prompt_tokens=request_token_bound(params, model.api_model if model else ""),
                      completion_tokens=(cap + thinking) * choices, cap=cap, choices=choices, thinking=thinking)


def beyond_bounds(usage: Usage, bounds: CallBounds | None) -> bool:
    """Whether a provider billed more than the call's bounds allowed: it is charged as billed, and flagged
    (the bound was wrong, or the provider ignored the cap it was sent)."""
    return bounds is not None and (usage.prompt_tokens > bounds.prompt_tokens
                                   or usage.completion_tokens > bounds.completion_tokens)
