"""How a fallback chain ends, as a client and an operator see it: the status when every candidate failed, what a
failure counts toward, and what a call with usage on one side only costs."""

from __future__ import annotations

import pytest

from mixcore.catalog import get_catalog
from mixcore.catalog.models import ParameterRules
from mixcore.errors import AllCandidatesFailed
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.chain import complete_first, record_call, stream_first
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.parameters import fit_parameters
from mixcore.mixes.upstream import Candidate
from mixcore.providers.types import Usage
from tests.conftest import request_context

pytestmark = pytest.mark.anyio
CATALOG = get_catalog()
USER = [{"role": "user", "content": "hi"}]


def candidates(*ids: str) -> list[Candidate]:
    return [Candidate.of(CATALOG.models[i]) for i in ids]


async def test_every_candidate_timing_out_is_a_504(gateway: Gateway, demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(fault="hang", hang_seconds=3))
    gateway.upstream.settings.attempt_timeout_seconds = 0.3
    ctx = request_context(gateway)
    ctx.deadline = ctx.deadline - ctx.remaining() + 1.0  # one second for the whole chain
    with pytest.raises(AllCandidatesFailed) as failed:
        await complete_first(gateway.upstream, ctx, candidates("openai/gpt-4o", "openai/gpt-4o-mini"),
                             {"messages": USER}, what="test")
    assert failed.value.status == 504
    # Each cut-off generation is charged its prompt: "hi" as sent is 37 tokens by the bound (see
    # tests/unit/mixes/test_budget_path.py), at each model's input price.
    timed_out = [c for c in ctx.calls if c.error == "timeout"]
    assert [c.model for c in timed_out] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    for call in timed_out:
        price = CATALOG.models[call.model].price
        assert price is not None and call.prompt_tokens == 37 and call.estimated
        assert call.cost_usd == pytest.approx(37 * price.input / 1e6)


async def test_every_candidate_cooling_down_is_a_503(gateway: Gateway) -> None:
    cooldowns = gateway.upstream.cooldowns
    for tenant in ("a", "b", "a", "b"):  # two keys each saw it fail twice: it cools down for everyone
        for _ in range(cooldowns.threshold):
            cooldowns.failed("openai", "openai/gpt-4o", tenant)
    with pytest.raises(AllCandidatesFailed) as failed:
        await complete_first(gateway.upstream, request_context(gateway), candidates("openai/gpt-4o"),
                             {"messages": USER}, what="test")
    assert failed.value.status == 503


async def test_a_streams_missing_first_token_counts_toward_its_models_cool_down(
        gateway: Gateway, demo: DemoProviderServer) -> None:
    # A whole answer may be slow because it is long; a stream without a first token says the provider is unwell
    demo.set_behaviour("openai/gpt-4o", Behaviour(fault="hang", hang_seconds=2))
    gateway.upstream.settings.attempt_timeout_seconds = 0.2
    for _ in range(gateway.upstream.cooldowns.threshold):
        ctx = request_context(gateway, "key_a")
        opened = await stream_first(gateway.upstream, ctx, candidates("openai/gpt-4o", "openai/gpt-4o-mini"),
                                    {"messages": USER}, what="test")
        assert opened.candidate.model_id == "openai/gpt-4o-mini"
        assert [chunk async for chunk in opened.chunks]
    assert gateway.upstream.cooldowns.cooling("openai", "openai/gpt-4o", "key_a") > 0


def test_a_call_with_prompt_tokens_and_no_answer_costs_its_prompt(gateway: Gateway) -> None:
    # gpt-4o: $2.50 per 1M input tokens (models.dev); 1,000 prompt tokens, nothing generated
    ctx = request_context(gateway)
    record_call(gateway.upstream, ctx, candidates("openai/gpt-4o")[0], usage=Usage(prompt_tokens=1_000),
                latency_ms=1.0, outcome="error")
    assert ctx.calls[-1].cost_usd == pytest.approx(1_000 * 2.5 / 1e6)


def test_a_client_may_send_a_field_the_model_ignores_but_mixcore_does_not() -> None:
    rules = ParameterRules(ignores=["temperature"])
    assert fit_parameters({"temperature": 0.3}, rules, frozenset({"temperature"}), "m") == {"temperature": 0.3}
    assert fit_parameters({"temperature": 0.3}, rules, frozenset(), "m") == {}


def test_an_output_limit_no_larger_than_the_thinking_budget_still_leaves_one_token() -> None:
    rules = ParameterRules(max_output_tokens=1_000, thinking_budget=1_000)
    assert fit_parameters({"max_tokens": 500}, rules, frozenset({"max_tokens"}), "m") == {"max_tokens": 1}


def test_a_failed_attempts_latency_is_recorded_in_milliseconds(gateway: Gateway,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from mixcore.mixes import chain
    from mixcore.providers.errors import UpstreamServerError

    monkeypatch.setattr(chain.time, "monotonic", lambda: 1_000.25)
    ctx = request_context(gateway)
    chain.attempt_failed(gateway.upstream, ctx, candidates("openai/gpt-4o")[0], UpstreamServerError("down"),
                         started=1_000.0, attempts=ctx.attempts, sent={})
    assert ctx.calls[-1].latency_ms == 250.0 and ctx.attempts[-1]["latency_ms"] == 250


async def test_a_direct_streams_call_is_recorded_as_layer_zero(gateway: Gateway) -> None:
    ctx = request_context(gateway)
    opened = await stream_first(gateway.upstream, ctx, candidates("openai/gpt-4o"), {"messages": USER}, what="t")
    assert (opened.layer, opened.role) == (0, "answer")
    assert [chunk async for chunk in opened.chunks]
