"""The three price tables the catalog is built from: where each lives, how to tell them apart, and whether
a newly fetched one may replace the last good one.

A table is recognised by its content, not by its URL or file name (a mirror may rename files):
LiteLLM's is an object of model keys with per-token costs, OpenRouter's is `{"data": [...]}` with
`pricing`, models.dev's is an object of providers with `models`. Before a table is used it is compared
with the last good table of its source: a table that lists far fewer models, or that the catalog
cannot be built from, is rejected with the reason, and the last good one stays. Prices are then
checked model by model (catalog/price_checks.py).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from mixcore.catalog.models import CatalogModel

LITELLM, OPENROUTER, MODELSDEV = "litellm", "openrouter", "models.dev"
PRICE_SOURCES = (MODELSDEV, OPENROUTER, LITELLM)
PRICE_URLS = {
    LITELLM: "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
    OPENROUTER: "https://openrouter.ai/api/v1/models",
    MODELSDEV: "https://models.dev/api.json",
}
# models.dev provider id → Mixcore provider (the builder's preference order); LiteLLM's key prefixes.
MODELSDEV_PROVIDERS = {
    "openai": "openai", "anthropic": "anthropic", "google": "google", "xai": "xai", "deepseek": "deepseek",
    "mistral": "mistral", "alibaba": "alibaba", "moonshotai": "moonshot", "zai": "zai",
    "togetherai": "together", "fireworks-ai": "fireworks", "groq": "groq",
}
LITELLM_PREFIX = {"openai": "", "anthropic": "", "google": "gemini/", "xai": "xai/", "deepseek": "deepseek/",
                  "mistral": "mistral/", "together": "together_ai/", "groq": "groq/",
                  "fireworks": "fireworks_ai/", "moonshot": "moonshot/"}
LITELLM_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google", "xai": "xai",
                     "deepseek": "deepseek", "mistral": "mistral", "together_ai": "together", "groq": "groq",
                     "fireworks_ai": "fireworks", "moonshot": "moonshot"}
MILLION = 1_000_000
# A table listing fewer than this share of the last good one's models is a broken download, not a cull.
MIN_MODEL_SHARE = 0.5


class NotAPriceTable(ValueError):
    pass


@dataclass
class PriceTable:
    """One fetched price table: its source (detected), the parsed document and where it came from."""

    source: str
    data: dict[str, Any]
    origin: str
    fetched_at: str | None = None

    def relevant(self) -> dict[str, Any]:
        """The part of the document the catalog builder reads: what is kept as the last good table."""
        if self.source == MODELSDEV:
            return {k: v for k, v in self.data.items() if k in MODELSDEV_PROVIDERS}
        if self.source == LITELLM:
            return {k: v for k, v in self.data.items()
                    if isinstance(v, dict) and str(v.get("litellm_provider")) in LITELLM_PROVIDERS}
        return self.data

    def compressed(self) -> bytes:
        return gzip.compress(json.dumps(self.relevant(), separators=(",", ":"), sort_keys=True).encode(), 6)


def content_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def detect(data: Any, origin: str = "") -> PriceTable:
    """Which source a parsed JSON document is, by its shape; NotAPriceTable when it is none of them."""
    if isinstance(data, dict) and isinstance(data.get("data"), list) and any(
            isinstance(m, dict) and isinstance(m.get("pricing"), dict) for m in data["data"][:20]):
        return PriceTable(OPENROUTER, data, origin)
    if isinstance(data, dict) and data:
        values = [v for v in data.values() if isinstance(v, dict)]
        if values and sum(1 for v in values if "litellm_provider" in v) > len(values) / 2:
            return PriceTable(LITELLM, data, origin)
        if values and sum(1 for v in values if isinstance(v.get("models"), dict)) > len(values) / 2:
            return PriceTable(MODELSDEV, data, origin)
    raise NotAPriceTable(f"{origin or 'document'}: not a LiteLLM, OpenRouter or models.dev price table")


def parse_table(raw: bytes, origin: str, fetched_at: str | None = None) -> PriceTable:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise NotAPriceTable(f"{origin}: not JSON ({exc})"[:200]) from exc
    table = detect(data, origin)
    table.fetched_at = fetched_at
    return table


def non_negative(value: Any) -> float | None:
    """A price as the tables write it (number or string) as a float; None when missing, unreadable, infinite or
    negative (OpenRouter's -1 means "varies")."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def model_count(table: PriceTable) -> int:
    """How many models of the providers Mixcore reaches the table lists (the same whether the table is the
    whole download or the part kept as the last good one)."""
    relevant = table.relevant()
    if table.source == OPENROUTER:
        return len(relevant.get("data") or [])
    if table.source == LITELLM:
        return len(relevant)
    return sum(len((v or {}).get("models") or {}) for v in relevant.values() if isinstance(v, dict))


_MODELSDEV_OF = {provider: source_id for source_id, provider in MODELSDEV_PROVIDERS.items()}


def key_in(source: str, model: CatalogModel) -> str | None:
    """The key under which a price table lists a catalog model, if it lists that provider at all."""
    if source == OPENROUTER:
        return model.api_model if model.provider == "openrouter" else None
    if source == LITELLM:
        prefix = LITELLM_PREFIX.get(model.provider)
        return prefix + model.api_model if prefix is not None else None
    source_id = _MODELSDEV_OF.get(model.provider)
    return f"{source_id}/{model.api_model}" if source_id else None


def check_table(table: PriceTable, last_count: int | None) -> str | None:
    """Why `table` as a whole must not replace the last good table of its source, or None when it may.

    `last_count` is the number of models the last good table listed. Prices are checked model by model once
    the catalog is built (catalog/price_checks.py): a price that moved refuses that model, not the table."""
    count = model_count(table)
    if last_count and count < MIN_MODEL_SHARE * last_count:
        return f"lists {count} models, far fewer than the {last_count} of the last good table"
    return None
