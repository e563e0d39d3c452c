"""Price arithmetic: catalog prices (USD per 1M tokens) × reported or estimated token usage."""

from __future__ import annotations

from mixcore.catalog.models import CatalogModel, Price
from mixcore.providers.types import Usage

MILLION = 1_000_000


def call_cost(price: Price | None, usage: Usage) -> float | None:
    """USD for one call, or None when the price is unknown (never a silent zero)."""
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    return ((usage.prompt_tokens - cached) * price.input + cached * cached_rate
            + usage.completion_tokens * price.output) / MILLION


def catalog_price(model: CatalogModel | None) -> tuple[Price | None, str | None]:
    """The price to use for a model and, when there is none, why."""
    if model is None:
        return None, "model not in catalog"
    if model.price is None:
        return None, "catalog has no price for this model"
    return model.price, None
