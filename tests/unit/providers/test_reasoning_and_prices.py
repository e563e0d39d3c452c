"""A reasoning variant's settings reach the provider as its API spells them, and every token class is priced
at the rate the price tables give it (expected costs computed here from the tables, not from the code)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mixcore.catalog import get_catalog
from mixcore.catalog.models import ReasoningSettings
from mixcore.costs.pricing import call_bounds, call_cost
from mixcore.providers.anthropic import AnthropicProtocol
from mixcore.providers.config import ProviderConfig
from mixcore.providers.openai_compat import OpenAIProtocol, usage_from_openai
from mixcore.providers.types import Usage
from tests.conftest import FIXTURES

LITELLM = json.loads((FIXTURES / "pricing" / "model_prices_and_context_window.json").read_text())
MODELSDEV = json.loads((FIXTURES / "pricing" / "modelsdev_api_2026-04-04.json").read_text())
MESSAGES = [{"role": "user", "content": "Prove it."}]


def provider(name: str, protocol: str = "openai") -> ProviderConfig:
    return ProviderConfig(name=name, protocol=protocol, base_url="http://127.0.0.1:9", api_key="k", configured=True)


def test_anthropic_thinking_variant_sends_the_budget_and_keeps_the_answer_room() -> None:
    opus = get_catalog().resolve_name("claude-opus-4-5-20251101-thinking-32k")
    assert opus is not None and opus.settings is not None
    _, _, body = AnthropicProtocol().request(provider("anthropic", "anthropic"), opus.api_model,
                                             {"messages": MESSAGES, "max_tokens": 500, "temperature": 0.2},
                                             stream=False, reasoning=opus.settings)
    assert body["model"] == "claude-opus-4-5-20251101"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 32 * 1024}
    assert body["max_tokens"] == 500 + 32 * 1024
    assert "temperature" not in body  # Anthropic refuses it with thinking on


def test_anthropic_answer_leaves_the_thinking_out() -> None:
    completion, usage = AnthropicProtocol().parse_completion({
        "id": "msg_1", "model": "claude-opus-4-5-20251101", "stop_reason": "end_turn",
        "content": [{"type": "thinking", "thinking": "secret plan", "signature": "x"}, {"type": "text", "text": "42"}],
        "usage": {"input_tokens": 10, "output_tokens": 300, "cache_read_input_tokens": 5,
                  "cache_creation_input_tokens": 7}})
    assert completion["choices"][0]["message"]["content"] == "42"
    assert usage is not None and (usage.prompt_tokens, usage.cached_tokens, usage.cache_write_tokens) == (22, 5, 7)


@pytest.mark.parametrize("name, provider_name, settings, expected", [
    ("openai", "openai", {"effort": "high"}, {"reasoning_effort": "high"}),
    ("xai", "xai", {"effort": "low"}, {"reasoning_effort": "low"}),
    ("google", "google", {"budget_tokens": 2048},
     {"extra_body": {"google": {"thinking_config": {"thinking_budget": 2048}}}}),
    ("openrouter-budget", "openrouter", {"budget_tokens": 16384}, {"reasoning": {"max_tokens": 16384}}),
    ("openrouter-effort", "openrouter", {"effort": "medium"}, {"reasoning": {"effort": "medium"}}),
])
def test_openai_compatible_providers_get_the_settings_in_their_own_field(
        name: str, provider_name: str, settings: dict[str, Any], expected: dict[str, Any]) -> None:
    _, _, body = OpenAIProtocol().request(provider(provider_name), "m", {"messages": MESSAGES}, stream=True,
                                          reasoning=ReasoningSettings.model_validate(settings))
    assert {k: body[k] for k in expected} == expected


def test_a_plain_model_gets_no_reasoning_fields() -> None:
    _, _, body = OpenAIProtocol().request(provider("openai"), "gpt-4o", {"messages": MESSAGES}, stream=False)
    assert not {"reasoning_effort", "reasoning", "extra_body"} & set(body)


def test_a_long_prompt_is_priced_at_the_long_context_tier() -> None:
    raw = LITELLM["gemini/gemini-2.5-pro"]
    prompt, answer = 205_003, 60  # the call: $0.5134, not the $0.2568 of the base rate
    expected = prompt * raw["input_cost_per_token_above_200k_tokens"] + answer * raw[
        "output_cost_per_token_above_200k_tokens"]
    model = get_catalog().get("google/gemini-2.5-pro")
    assert model is not None
    cost = call_cost(model.price, Usage(prompt_tokens=prompt, completion_tokens=answer))
    assert cost == pytest.approx(expected) and round(expected, 4) == 0.5134
    short = call_cost(model.price, Usage(prompt_tokens=200_000, completion_tokens=answer))
    assert short == pytest.approx(200_000 * raw["input_cost_per_token"] + answer * raw["output_cost_per_token"])


def test_cache_reads_and_writes_are_priced_apart() -> None:
    rates = MODELSDEV["anthropic"]["models"]["claude-opus-4-5-20251101"]["cost"]
    usage = Usage(prompt_tokens=10_000, completion_tokens=1_000, cached_tokens=6_000, cache_write_tokens=3_000)
    expected = (1_000 * rates["input"] + 6_000 * rates["cache_read"] + 3_000 * rates["cache_write"]
                + 1_000 * rates["output"]) / 1e6
    model = get_catalog().get("anthropic/claude-opus-4-5-20251101")
    assert model is not None
    assert call_cost(model.price, usage) == pytest.approx(expected)


def test_reasoning_tokens_are_read_and_priced_when_the_table_prices_them_apart() -> None:
    usage = usage_from_openai({"prompt_tokens": 100, "completion_tokens": 900,
                               "completion_tokens_details": {"reasoning_tokens": 800}})
    assert usage is not None and usage.reasoning_tokens == 800
    priced_apart = next(((provider_id, model_id, raw["cost"]) for provider_id in ("openai", "xai", "google")
                         for model_id, raw in MODELSDEV[provider_id]["models"].items()
                         if (raw.get("cost") or {}).get("reasoning") is not None
                         and get_catalog().get(f"{provider_id}/{model_id}") is not None), None)
    if priced_apart is None:
        pytest.skip("no first-party model in the price data prices reasoning apart")
    provider_id, model_id, rates = priced_apart
    model = get_catalog().get(f"{provider_id}/{model_id}")
    assert model is not None
    expected = (100 * rates["input"] + 100 * rates["output"] + 800 * rates["reasoning"]) / 1e6
    assert call_cost(model.price, usage) == pytest.approx(expected)


def test_a_thinking_budget_is_part_of_what_a_budget_reserves() -> None:
    opus = get_catalog().resolve_name("claude-opus-4-5-20251101-thinking-32k")
    plain = get_catalog().get("anthropic/claude-opus-4-5-20251101")
    params = {"messages": MESSAGES, "max_tokens": 500}
    assert call_bounds(params, opus, 65_536).completion_tokens == 500 + 32 * 1024
    assert call_bounds(params, plain, 65_536).completion_tokens == 500
