"""Route mixes through the gateway: the router's score against the share's threshold picks the side, each side
falls back like an index mix, the answer explains the choice, and the cost record keeps the score."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mixcore.catalog import get_catalog
from mixcore.errors import InvalidRequest
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.registry import MixRegistry
from mixcore.mixes.route import win_rate
from mixcore.routing.thresholds import shipped_tables
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore
from tests.conftest import request_context, use_store
from tests.unit.mixes.test_index import ranking

pytestmark = pytest.mark.anyio
# The overall ranking written here (scores 1500, 1490, ...): gpt-4o leads; claude-sonnet-4-5 is 10 points behind,
# gemini-2.5-pro 20, gpt-4o-mini 30, claude-haiku-4-5 40: every one predicted to win at least 40% against it.
RANKED = ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4o-mini", "claude-haiku-4-5"]
HARD = ("A train leaves at 9:40 and travels 312 km at 78 km/h, then waits 25 minutes and covers another 190 km at "
        "95 km/h. Write a Python function that takes any such list of legs and waits and returns the arrival time, "
        "prove that it handles trips across midnight, and work out this trip's arrival step by step. ") * 3


@pytest.fixture
def registry(gateway: Gateway) -> MixRegistry:
    store = MemoryStore()
    store.put_ranking(ranking(RANKED, category="overall"))
    gateway.upstream.settings.cache_ttl_seconds = 0
    return use_store(gateway, store)


def ask(content: str, **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "route/auto", "messages": [{"role": "user",
                                                                                    "content": content}], **extra})


def blended(model_id: str) -> float:
    price = get_catalog().get(model_id).price  # type: ignore[union-attr]
    assert price is not None
    return price.input + price.output


def test_the_weak_side_is_the_cheapest_model_close_enough_to_the_leader() -> None:
    # Each model's blended price (input + output per 1M) from the catalog; all five are within the 40% floor:
    # the lowest-rated, 40 points behind, is predicted to win 1 / (1 + 10^(40/400)) = 44% of the time.
    assert win_rate(1460, 1500) == pytest.approx(1 / (1 + 10 ** 0.1))
    prices = {m: blended(f"{p}/{m}") for p, m in (("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-pro"),
                                                  ("openai", "gpt-4o-mini"), ("anthropic", "claude-haiku-4-5"))}
    assert min(prices, key=prices.__getitem__) == "gpt-4o-mini"


async def test_a_hard_prompt_and_hi_go_to_different_sides_at_the_default_share(gateway: Gateway,
                                                                               registry: MixRegistry) -> None:
    hard = await gateway.complete(ask(HARD), request_context(gateway))
    easy = await gateway.complete(ask("hi"), request_context(gateway))
    assert (hard.body["model"], easy.body["model"]) == ("openai/gpt-4o", "openai/gpt-4o-mini")
    route = hard.body["mix"]["route"]
    median = shipped_tables()["length"][50]
    assert route["side"] == "strong" and route["score"] == len(HARD) >= route["threshold"] == median
    assert route["strong"] == "openai/gpt-4o" and route["weak"] == "openai/gpt-4o-mini"
    assert route["chosen"] == hard.body["model"] and route["strong_share"] == 0.5
    costs = route["estimated_cost_usd"]
    assert costs["strong"] > costs["weak"] > 0
    assert easy.body["mix"]["route"]["side"] == "weak"


@pytest.mark.parametrize(("share", "model"), [(0.0, "openai/gpt-4o-mini"), (1.0, "openai/gpt-4o")])
async def test_a_share_of_zero_or_one_picks_one_side_whatever_the_prompt(gateway: Gateway, registry: MixRegistry,
                                                                         share: float, model: str) -> None:
    for content in ("hi", HARD):
        result = await gateway.complete(ask(content, route={"strong_share": share}), request_context(gateway))
        assert result.body["model"] == model


async def test_a_threshold_or_a_cost_ceiling_of_the_request_decides(gateway: Gateway, registry: MixRegistry) -> None:
    low = await gateway.complete(ask("hi", route={"threshold": 1}), request_context(gateway))
    assert low.body["model"] == "openai/gpt-4o" and low.body["mix"]["route"]["threshold"] == 1
    capped = await gateway.complete(ask(HARD, route={"max_cost_usd": 1e-9}), request_context(gateway))
    assert capped.body["model"] == "openai/gpt-4o-mini" and "max_cost_usd" in capped.body["mix"]["route"]["why"]


async def test_each_side_falls_back_like_an_index_mix(gateway: Gateway, registry: MixRegistry,
                                                      demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o-mini", Behaviour(status=503))
    result = await gateway.complete(ask("hi"), request_context(gateway))
    # The next cheapest close model answers (weak side), never the strong side.
    assert result.body["model"] != "openai/gpt-4o"
    assert result.body["mix"]["route"]["side"] == "weak"
    assert next(a["model"] for a in result.body["mix"]["attempts"]) == "openai/gpt-4o-mini"


async def test_the_first_streamed_chunk_explains_and_the_record_keeps_the_score(gateway: Gateway,
                                                                               registry: MixRegistry) -> None:
    ctx = request_context(gateway)
    result = await gateway.stream(ask(HARD, stream=True), ctx)
    lines = [line async for line in result.lines]
    first = json.loads(lines[0][6:])
    assert first["mix"]["route"]["side"] == "strong" and first["mix"]["route"]["score"] == len(HARD)
    assert ctx.record is not None and ctx.record.route is not None and ctx.record.route["score"] == len(HARD)


@pytest.mark.parametrize("model", ["index/lmsys-overall", "openai/gpt-4o"])
async def test_route_settings_on_another_kind_of_mix_or_a_model_are_refused(gateway: Gateway, registry: MixRegistry,
                                                                            model: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await gateway.complete(ChatCompletionRequest.model_validate(
            {"model": model, "messages": [{"role": "user", "content": "hi"}],
             "route": {"strong_share": 0.3}}), request_context(gateway))
    assert refused.value.param == "route" and model in refused.value.message


@pytest.fixture
def categories(gateway: Gateway) -> MixRegistry:
    store = MemoryStore()
    # Each category led by a different model, so the answer shows which index mix was used.
    leaders = {"overall": "gpt-4o", "coding": "claude-sonnet-4-5", "chinese": "gemini-2.5-pro", "math": "gpt-4o-mini"}
    for category, leader in leaders.items():
        store.put_ranking(ranking([leader, *[m for m in RANKED if m != leader]], category=category))
    gateway.upstream.settings.cache_ttl_seconds = 0
    return use_store(gateway, store)


@pytest.mark.parametrize(("content", "category", "model"), [
    ("Write a Python function that merges two sorted lists.", "coding", "anthropic/claude-sonnet-4-5"),
    ("请用简单的语言解释一下为什么天空是蓝色的。", "chinese", "google/gemini-2.5-pro"),
    ("Solve 3x + 7 = 31 and show each step.", "math", "openai/gpt-4o-mini"),
    ("hi", "overall", "openai/gpt-4o"),
])
async def test_index_auto_answers_with_the_prompts_category_leader(gateway: Gateway, categories: MixRegistry,
                                                                   content: str, category: str, model: str) -> None:
    result = await gateway.complete(ChatCompletionRequest.model_validate(
        {"model": "index/auto", "messages": [{"role": "user", "content": content}]}), request_context(gateway))
    assert result.body["model"] == model
    auto = result.body["mix"]["auto"]
    assert auto["category"] == category and auto["mix"] == f"index/lmsys-{category}" and auto["why"]
    assert result.body["mix"]["id"] == "index/auto"



@pytest.mark.parametrize("route", ['{"threshold": NaN}', '{"threshold": Infinity}', '{"max_cost_usd": -1}',
                                   '{"strong_share": 1.5}', '{"strong_share": 0.3, "share": 1}'])
def test_route_settings_that_mean_nothing_are_refused(route: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate_json(
            '{"model": "route/auto", "messages": [{"role": "user", "content": "hi"}], "route": ' + route + "}")


async def test_without_a_close_enough_model_every_prompt_goes_to_the_strong_side(gateway: Gateway) -> None:
    store = MemoryStore()
    # Everyone but the leader is 400 points behind: predicted to win 1 / (1 + 10) = 9% of the time.
    far = {"source": "lmsys", "category": "overall", "fetched_at": "2026-11-20T00:00:00+00:00",
           "data_date": "2026-11-20", "content_hash": "far", "metric": "arena score",
           "entries": [{"rank": 1, "name": "gpt-4o", "key": None, "score": 1500.0},
                       {"rank": 2, "name": "gpt-4o-mini", "key": None, "score": 1100.0}]}
    store.put_ranking(far)
    gateway.upstream.settings.cache_ttl_seconds = 0
    use_store(gateway, store)
    result = await gateway.complete(ask("hi"), request_context(gateway))
    route = result.body["mix"]["route"]
    assert result.body["model"] == "openai/gpt-4o" and route["side"] == "strong" and "40%" in route["why"]


async def test_the_router_scores_the_question_asked_not_the_system_prompt_or_earlier_turns(
        gateway: Gateway, registry: MixRegistry) -> None:
    # An app's standing instructions (far longer than the shipped median) must not send every "hi" to the strong
    # side: the router scores the last user turn, as RouteLLM's controller does and as its quantiles were fitted.
    system = {"role": "system", "content": "You are ACME's assistant. Be accurate, brief and kind. " * 40}
    earlier = [{"role": "user", "content": HARD}, {"role": "assistant", "content": "Here is the function..."}]
    for messages in ([system, {"role": "user", "content": "hi"}], [*earlier, {"role": "user", "content": "thanks"}]):
        request = ChatCompletionRequest.model_validate({"model": "route/auto", "messages": messages})
        route = (await gateway.complete(request, request_context(gateway))).body["mix"]["route"]
        assert (route["side"], route["score"]) == ("weak", len(messages[-1]["content"]))
    parts = [system, {"role": "user", "content": [{"type": "text", "text": HARD}]}]  # content as parts
    request = ChatCompletionRequest.model_validate({"model": "route/auto", "messages": parts})
    route = (await gateway.complete(request, request_context(gateway))).body["mix"]["route"]
    assert (route["side"], route["score"]) == ("strong", len(HARD))


async def test_the_requests_mix_constraints_hold_on_both_sides(gateway: Gateway, registry: MixRegistry) -> None:
    # Without openai, the ranking's leader is claude-sonnet-4-5 (1490): the strong side. Every other non-openai
    # model is close enough to it (gemini-2.5-pro 10 points behind, claude-haiku-4-5 30), so the weak side is the
    # cheaper of the two by the catalog's blended price.
    weak = min(("google/gemini-2.5-pro", "anthropic/claude-haiku-4-5"), key=blended)
    for content, model in ((HARD, "anthropic/claude-sonnet-4-5"), ("hi", weak)):
        result = await gateway.complete(ask(content, mix={"deny_providers": ["openai"]}), request_context(gateway))
        route = result.body["mix"]["route"]
        assert (route["strong"], route["weak"], result.body["model"]) == ("anthropic/claude-sonnet-4-5", weak, model)
    # An output-price ceiling at the mini's (the cheapest of the five per output token) leaves the mini alone: it
    # is the strong side, and there is no weak side but it.
    prices = {m: get_catalog().get(f"{p}/{m}").price for p, m in (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"),
              ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-pro"), ("anthropic", "claude-haiku-4-5"))}
    ceiling = prices["gpt-4o-mini"].output  # type: ignore[union-attr]
    assert sorted(p.output for p in prices.values() if p)[:2][1] > ceiling  # no other model is that cheap
    result = await gateway.complete(ask(HARD, mix={"max_price": ceiling}), request_context(gateway))
    assert result.body["model"] == "openai/gpt-4o-mini" == result.body["mix"]["route"]["strong"]
