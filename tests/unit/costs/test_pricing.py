"""The money arithmetic a user's bill rests on: what a call costs, the most it could cost (what a budget reserves),
and when a provider's usage report is believed. Every expected figure is written out from the prices and token
counts in the test."""

from __future__ import annotations

from typing import Any

import pytest

from mixcore.catalog.models import CatalogModel, LongContextPrice, Price, ReasoningSettings
from mixcore.costs.pricing import CallBounds, beyond_bounds, call_bounds, call_cost
from mixcore.providers.tokens import (
    REQUEST_OVERHEAD_TOKENS,
    TOKENS_PER_IMAGE,
    TOKENS_PER_MESSAGE,
    TOOLS_OVERHEAD_TOKENS,
    request_token_bound,
    text_token_bound,
    value_token_bound,
)
from mixcore.providers.types import Usage

PLAIN = Price(input=1.0, output=4.0)  # USD per 1M tokens, no separate reasoning price
REASONING = Price(input=1.0, output=4.0, reasoning_output=10.0)


def test_reasoning_tokens_are_billed_at_the_output_rate_when_no_reasoning_rate_exists() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=500, reasoning_tokens=200)
    # 1,000 × $1 + 500 × $4 (the 200 reasoning tokens are output tokens, at the output rate), per 1M
    assert call_cost(PLAIN, usage) == pytest.approx((1_000 * 1.0 + 500 * 4.0) / 1e6)


def test_reasoning_tokens_are_billed_at_their_own_rate_when_the_table_gives_one() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=500, reasoning_tokens=200)
    assert call_cost(REASONING, usage) == pytest.approx((1_000 * 1.0 + 300 * 4.0 + 200 * 10.0) / 1e6)


def test_cache_reads_and_writes_each_have_their_rate() -> None:
    price = Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)
    usage = Usage(prompt_tokens=10_000, completion_tokens=100, cached_tokens=6_000, cache_write_tokens=3_000)
    assert call_cost(price, usage) == pytest.approx((1_000 * 3.0 + 6_000 * 0.3 + 3_000 * 3.75 + 100 * 15.0) / 1e6)


def test_a_long_prompt_is_billed_entirely_at_the_long_context_tier() -> None:
    price = Price(input=1.25, output=10.0, long_context=LongContextPrice(above_tokens=200_000, input=2.5, output=15.0))
    at_threshold = Usage(prompt_tokens=200_000, completion_tokens=1_000)
    above = Usage(prompt_tokens=200_001, completion_tokens=1_000)
    assert call_cost(price, at_threshold) == pytest.approx((200_000 * 1.25 + 1_000 * 10.0) / 1e6)
    assert call_cost(price, above) == pytest.approx((200_001 * 2.5 + 1_000 * 15.0) / 1e6)


def test_the_most_a_call_can_cost_uses_the_highest_rate_of_each_side() -> None:
    price = Price(input=1.25, output=10.0, cache_write=1.5, reasoning_output=12.0,
                  long_context=LongContextPrice(above_tokens=200_000, input=2.5, output=15.0))
    bounds = CallBounds(prompt_tokens=1_000, completion_tokens=100)
    assert bounds.max_cost(price) == pytest.approx((1_000 * 2.5 + 100 * 15.0) / 1e6)
    assert CallBounds(prompt_tokens=1_000, completion_tokens=100).max_cost(PLAIN) == pytest.approx(
        (1_000 * 1.0 + 100 * 4.0) / 1e6)


def test_the_prompt_bound_counts_every_message_part_and_every_forwarded_field() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    functions = [{"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    params: dict[str, Any] = {
        "model": "m", "temperature": 0.2, "max_tokens": 5,  # settings, not prompt
        "messages": [
            {"role": "system", "content": "héllo"},
            {"role": "user", "content": [{"type": "text", "text": "abc"}, {"type": "image_url",
                                                                            "image_url": {"url": "x"}}]},
            {"role": "assistant", "content": "ok", "name": "bot"},
        ],
        "tools": tools, "functions": functions, "response_format": {"type": "json_object"},
    }
    counted = sum(text_token_bound(name) + value_token_bound(params[name])
                  for name in ("messages", "tools", "functions", "response_format"))
    assert request_token_bound(params) == (REQUEST_OVERHEAD_TOKENS + 3 * TOKENS_PER_MESSAGE + TOOLS_OVERHEAD_TOKENS
                                           + counted)
    # The image part counts what its providers document, whatever its URL says; a function's schema counts.
    assert value_token_bound({"type": "image_url", "image_url": {"url": "x" * 10_000}}) == TOKENS_PER_IMAGE
    assert request_token_bound({**params, "functions": functions * 100}) > request_token_bound(params) + 99 * 20


def model(max_output: int | None = 8_000, budget: int | None = None) -> CatalogModel:
    return CatalogModel(id="p/m", provider="p", api_model="m", price=PLAIN, max_output_tokens=max_output,
                        settings=ReasoningSettings(budget_tokens=budget) if budget else None)


def test_the_output_bound_is_the_cap_asked_for_times_the_choices_plus_a_thinking_budget() -> None:
    messages = [{"role": "user", "content": "hi"}]
    assert call_bounds({"messages": messages, "max_tokens": 100}, model(), 65_536).completion_tokens == 100
    assert call_bounds({"messages": messages, "max_completion_tokens": 50, "max_tokens": 100}, model(),
                       65_536).completion_tokens == 50
    assert call_bounds({"messages": messages, "max_tokens": 100, "n": 3}, model(), 65_536).completion_tokens == 300
    assert call_bounds({"messages": messages}, model(), 65_536).completion_tokens == 8_000
    assert call_bounds({"messages": messages}, model(max_output=None), 65_536).completion_tokens == 8_192
    # With no cap asked, a thinking budget fits inside the model's limit: 8,000 = 6,976 + 1,024
    assert call_bounds({"messages": messages}, model(budget=1_024), 65_536).cap == 6_976
    assert call_bounds({"messages": messages, "max_tokens": 100}, model(budget=1_024),
                       65_536).completion_tokens == 1_124


BOUNDS = CallBounds(prompt_tokens=1_000, completion_tokens=100)


@pytest.mark.parametrize(("usage", "beyond"), [
    (Usage(prompt_tokens=1_000, completion_tokens=100), False),
    (Usage(prompt_tokens=0, completion_tokens=0), False),
    (Usage(prompt_tokens=1_001, completion_tokens=10), True),  # more prompt than the bound said
    (Usage(prompt_tokens=10, completion_tokens=101), True),  # more answer than the cap sent
])
def test_usage_beyond_the_calls_bounds_is_flagged_and_still_billed_as_reported(usage: Usage, beyond: bool) -> None:
    assert beyond_bounds(usage, BOUNDS) is beyond
    assert call_cost(PLAIN, usage) == pytest.approx((usage.prompt_tokens * 1.0 + usage.completion_tokens * 4.0)
                                                    / 1e6)


def test_the_cap_a_budget_can_pay_leaves_room_for_the_prompt_and_every_choice() -> None:
    # 1,000 prompt tokens at $1/1M = $0.001; each answer token at $4/1M, for 2 choices: $0.000008 a cap token.
    bounds = CallBounds(prompt_tokens=1_000, completion_tokens=2 * 500, cap=500, choices=2)
    assert bounds.affordable_cap(PLAIN, 0.001 + 0.000008 * 120) == 120
    assert bounds.affordable_cap(PLAIN, 1.0) == 500  # never above the cap asked for
    assert bounds.affordable_cap(PLAIN, 0.0005) < 0  # not even the prompt
    assert bounds.with_cap(120).completion_tokens == 240


def test_a_request_for_no_choices_is_bounded_as_one() -> None:
    messages = [{"role": "user", "content": "hi"}]
    assert call_bounds({"messages": messages, "max_tokens": 100, "n": 0}, model(), 65_536).completion_tokens == 100


def test_cache_writes_are_never_more_than_the_prompt_left_after_cache_reads() -> None:
    # Reported: 100 prompt tokens, 80 read from cache, 50 "written" (more than the 20 left): 20 are cache writes
    price = Price(input=1.0, output=4.0, cached_input=0.5, cache_write=2.0)
    usage = Usage(prompt_tokens=100, completion_tokens=0, cached_tokens=80, cache_write_tokens=50)
    assert call_cost(price, usage) == pytest.approx((80 * 0.5 + 20 * 2.0) / 1e6)
