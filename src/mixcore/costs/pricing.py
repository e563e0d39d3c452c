"""Price arithmetic: catalog prices (USD per 1M tokens) × reported or estimated token usage.

Besides what a call cost, this says the most it could cost (`CallBounds`): the prompt can hold no
more tokens than its text has UTF-8 bytes (a token covers at least one byte), plus a fixed
allowance per image or file part; the answer no more than the request's output cap, else the
model's, else the gateway's. Budgets reserve that much before a call, and usage a provider reports
beyond it (or negative) is not believed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mixcore.catalog.models import CatalogModel, Price
from mixcore.providers.types import Usage, estimate_tokens, message_text

MILLION = 1_000_000
# Per non-text part (image, audio, file): above what OpenAI (≤1,445 for a high-detail image),
# Anthropic (≤1,600) and Gemini (258 per tile) charge for one image.
TOKENS_PER_MEDIA_PART = 2_000
TOKENS_PER_MESSAGE = 8  # role and separators
# Providers add a chat template and tool formatting to the prompt we see.
PROMPT_SLACK_TOKENS = 1_000


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
        return None, "catalog has no price for this model"
    return model.price, None


@dataclass(frozen=True)
class CallBounds:
    """The most tokens one call can be billed for, each way."""

    prompt_tokens: int
    completion_tokens: int

    def max_cost(self, price: Price) -> float:
        return (self.prompt_tokens * price.highest_input()
                + self.completion_tokens * price.highest_output()) / MILLION


def prompt_token_bound(params: dict[str, Any]) -> int:
    total = PROMPT_SLACK_TOKENS
    for message in params.get("messages") or []:
        total += TOKENS_PER_MESSAGE
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            total += len(content.encode("utf-8", "surrogatepass"))
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                total += len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else TOKENS_PER_MEDIA_PART
        extra = {k: v for k, v in message.items() if k not in ("content", "role")} if isinstance(message, dict) else {}
        if extra:
            total += len(json.dumps(extra, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    for name in ("tools", "response_format", "tool_choice"):
        if params.get(name):
            total += len(json.dumps(params[name], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return total


def call_bounds(params: dict[str, Any], model: CatalogModel | None, gateway_cap: int) -> CallBounds:
    """What one call with these parameters can be billed for at most."""
    cap = params.get("max_completion_tokens") or params.get("max_tokens")
    if not isinstance(cap, int) or cap <= 0:
        cap = (model.max_output_tokens if model and model.max_output_tokens else None) or gateway_cap
    n = params.get("n")
    choices = n if isinstance(n, int) and n > 0 else 1
    # A thinking budget is added to the answer's room (the Anthropic adapter raises max_tokens by it).
    thinking = model.settings.budget_tokens or 0 if model is not None and model.settings is not None else 0
    return CallBounds(prompt_tokens=prompt_token_bound(params), completion_tokens=(cap + thinking) * choices)


def believable_usage(usage: Usage | None, bounds: CallBounds, prompt: list[dict[str, Any]], answer: str) -> Usage:
    """The provider's usage when it is within the call's bounds; otherwise an estimate from the text, marked."""
    if usage is not None and (0 <= usage.prompt_tokens <= bounds.prompt_tokens
                              and 0 <= usage.completion_tokens <= bounds.completion_tokens
                              and 0 <= usage.cached_tokens <= usage.prompt_tokens):
        return usage
    return Usage(prompt_tokens=estimate_tokens(message_text(prompt)), completion_tokens=estimate_tokens(answer),
                 estimated=True)
