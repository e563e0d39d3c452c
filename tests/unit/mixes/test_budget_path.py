"""The money path through the gateway for a key with a budget: the most a call can cost is held before it is made,
and settling swaps the hold for what the provider's reported usage costs. Expected amounts are written out from the
catalog's prices (models.dev: gpt-4o $2.50 in, $10 out per 1M tokens) and the token counts in the test."""

from __future__ import annotations

import json

import pytest

from mixcore.catalog import get_catalog
from mixcore.costs.limits import Spending, month
from mixcore.errors import BudgetExceeded
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.gateway import Gateway
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore
from tests.conftest import request_context

pytestmark = pytest.mark.anyio
MODEL = "openai/gpt-4o"
IN, OUT = 2.5, 10.0  # USD per 1M tokens
# "hi" as the only message (providers/tokens.py): 16 for the request, 8 for the message, then the fields as sent:
# "messages" 3 (8 letters, 3 a token), the list 1, the message 1, "role" 2, "user" 2, "content" 3, "hi" 1
PROMPT_BOUND = 16 + 8 + 3 + 1 + 1 + 2 + 2 + 3 + 1
REPORTED = {"prompt_tokens": 12, "completion_tokens": 7}


def ask(max_tokens: int, **extra: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                                 "max_tokens": max_tokens, **extra})


def test_the_prices_written_here_are_the_catalogs() -> None:
    price = get_catalog().get(MODEL).price  # type: ignore[union-attr]
    assert price is not None and (price.input, price.output) == (IN, OUT)


async def test_a_budgeted_call_holds_its_most_then_settles_to_what_was_reported(
        gateway: Gateway, demo: DemoProviderServer) -> None:
    # Given a key with $1 a month, and a provider reporting 12 prompt and 7 completion tokens
    demo.set_behaviour(MODEL, Behaviour(usage=REPORTED))
    store = MemoryStore()
    ctx = request_context(gateway, "key_budget")
    ctx.spending = spending = Spending(store, "key_budget", budget_usd=1.0, request_id=ctx.request_id)
    # When it asks gpt-4o for at most 10 tokens
    result = await gateway.complete(ask(10), ctx)
    # Then the most the call could cost was held before it was made
    held = (PROMPT_BOUND * IN + 10 * OUT) / 1e6
    assert spending.reserved_usd == pytest.approx(held)
    assert store.usage[("key_budget", month())]["committed_usd"] == pytest.approx(held)
    # And settling replaces the hold with the reported usage's cost
    cost = (12 * IN + 7 * OUT) / 1e6
    assert result.body["usage"]["cost"] == pytest.approx(cost)
    spending.settle(result.body["usage"]["cost"])
    counters = store.usage[("key_budget", month())]
    assert counters["committed_usd"] == pytest.approx(cost) and counters["cost_usd"] == pytest.approx(cost)
    # And a second settle of the same request counts nothing more
    assert spending.settle(cost) is False
    assert store.usage[("key_budget", month())] == counters


async def test_a_call_that_cannot_pay_a_useful_answer_is_refused_before_it_is_made(
        gateway: Gateway, demo: DemoProviderServer) -> None:
    store = MemoryStore()
    ctx = request_context(gateway, "key_small")
    # The prompt bound plus a 16-token answer costs $0.0002525: a $0.00025 budget cannot pay it
    ctx.spending = Spending(store, "key_small", budget_usd=0.00025)
    with pytest.raises(BudgetExceeded) as refused:
        await gateway.complete(ask(100), ctx)
    assert refused.value.details["call_max_usd"] == pytest.approx((PROMPT_BOUND * IN + 16 * OUT) / 1e6)
    assert "16 answer tokens" in refused.value.message and "$0.00025;" in refused.value.message
    assert demo.calls_for(MODEL) == []  # nothing was spent upstream


async def test_a_cap_the_budget_cannot_pay_is_lowered_to_what_it_can_and_the_answer_says_so(
        gateway: Gateway, demo: DemoProviderServer) -> None:
    store = MemoryStore()
    ctx = request_context(gateway, "key_small")
    # $0.0005 pays the prompt bound ($0.0000925) and 40 answer tokens at $10/1M ($0.0004), not 41
    ctx.spending = Spending(store, "key_small", budget_usd=0.0005)
    result = await gateway.complete(ask(100), ctx)
    sent = demo.calls_for(MODEL)[0].body
    assert [sent.get(name) for name in ("max_tokens", "max_completion_tokens") if name in sent] == [40]
    assert result.body["mix"]["budget"] == [{"model": MODEL, "max_tokens_asked": 100, "max_tokens_sent": 40,
                                             "reason": "the key's remaining budget pays no more"}]
    assert result.headers["x-mix-max-tokens"] == "40"


async def test_with_no_cap_asked_the_cap_reserved_is_the_one_sent(gateway: Gateway, demo: DemoProviderServer) -> None:
    ctx = request_context(gateway, "key_big")
    ctx.spending = Spending(MemoryStore(), "key_big", budget_usd=100.0)
    await gateway.complete(ChatCompletionRequest.model_validate(
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}), ctx)
    sent = demo.calls_for(MODEL)[0].body
    limit = get_catalog().get(MODEL).max_output_tokens  # type: ignore[union-attr]
    assert [sent[name] for name in ("max_tokens", "max_completion_tokens") if name in sent] == [limit]
    assert ctx.spending.reserved_usd == pytest.approx((PROMPT_BOUND * IN + limit * OUT) / 1e6)  # type: ignore[operator]


async def test_a_streamed_calls_reported_usage_is_billed_not_estimated(gateway: Gateway,
                                                                       demo: DemoProviderServer) -> None:
    demo.set_behaviour(MODEL, Behaviour(usage=REPORTED))
    ctx = request_context(gateway)
    result = await gateway.stream(ask(10, stream=True, stream_options={"include_usage": True}), ctx)
    lines = [line async for line in result.lines]
    final = json.loads(lines[-2][6:])
    assert ctx.record is not None
    call = ctx.record.calls[-1]
    assert (call.prompt_tokens, call.completion_tokens, call.estimated) == (12, 7, False)
    assert final["usage"]["cost"] == pytest.approx((12 * IN + 7 * OUT) / 1e6)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_usage_beyond_the_cap_sent_is_billed_as_reported_and_flagged(gateway: Gateway, demo: DemoProviderServer,
                                                                           stream: bool) -> None:
    # Asked for at most 10 tokens; the provider ignored the cap and billed 5,000.
    demo.set_behaviour(MODEL, Behaviour(usage={"prompt_tokens": 12, "completion_tokens": 5_000}))
    ctx = request_context(gateway)
    if stream:
        result = await gateway.stream(ask(10, stream=True, stream_options={"include_usage": True}), ctx)
        [line async for line in result.lines]
    else:
        await gateway.complete(ask(10), ctx)
    assert ctx.record is not None
    call = ctx.record.calls[-1]
    assert (call.completion_tokens, call.beyond_bounds, call.estimated) == (5_000, True, False)
    assert call.cost_usd == pytest.approx((12 * IN + 5_000 * OUT) / 1e6)
