"""AutoMix cascades (`route/cascade/*`) through the gateway: the weak side answers, the model that answered
verifies its own answer k times, and the strong side answers when too few verdicts say Correct. Every call is
charged and lands in the cost record; the answer says what was verified and why it stands or was escalated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mixcore.errors import InvalidRequest
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.gateway import Gateway
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore
from tests.conftest import request_context, use_store
from tests.unit.mixes.test_index import ranking
from tests.unit.mixes.test_route import RANKED

pytestmark = pytest.mark.anyio
WEAK, STRONG = "openai/gpt-4o-mini", "openai/gpt-4o"  # the cheapest close model and the leader of RANKED
VERIFIED = "12 * 3 = 36.\nVerification Decision: The AI generated answer is Correct."
REFUTED = "12 * 3 is 36, not 38.\nVerification Decision: The AI generated answer is Incorrect."
QUESTION = "A box holds 12 eggs. How many eggs are in 3 boxes?"


@pytest.fixture
def store(gateway: Gateway) -> MemoryStore:
    store = MemoryStore()
    store.put_ranking(ranking(RANKED, category="overall"))
    gateway.upstream.settings.cache_ttl_seconds = 0
    use_store(gateway, store)
    return store


def ask(model: str = "route/cascade/auto", **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": [{"role": "user", "content": QUESTION}],
                                                 **extra})


async def test_a_verified_weak_answer_stands_and_every_call_is_charged(gateway: Gateway, store: MemoryStore,
                                                                       demo: DemoProviderServer) -> None:
    demo.set_behaviour(WEAK, Behaviour(reply=VERIFIED))
    ctx = request_context(gateway)
    result = await gateway.complete(ask(), ctx)
    route = result.body["mix"]["route"]
    assert result.body["model"] == WEAK == route["chosen"] == route["weak"] and route["strong"] == STRONG
    assert route["side"] == "weak" and route["score"] == 1.0 and route["verdicts"] == 4
    assert route["router"] == "self-verify" and "≥ 0.5" in route["why"]
    # One weak answer, then one verification call asking the same model for 4 verdicts, AutoMix's way.
    sent = [c.body for c in demo.calls_for("gpt-4o-mini")]
    assert len(sent) == 2 and demo.calls_for("gpt-4o") == []
    verify = sent[1]
    assert verify["n"] == 4 and verify["temperature"] == 1.0 and verify["stop"] == ["---"]
    assert QUESTION in verify["messages"][0]["content"] and VERIFIED in verify["messages"][0]["content"]
    assert ctx.record is not None
    lines = [(c.layer, c.role, c.model) for c in ctx.record.calls]
    assert lines == [(1, "answer", WEAK), (2, "verify", WEAK)]
    verify_line = ctx.record.calls[1]
    assert verify_line.cost_usd and verify_line.completion_tokens == 4 * ctx.record.calls[0].completion_tokens
    assert ctx.record.route is not None and ctx.record.route["score"] == 1.0


async def test_a_refuted_weak_answer_goes_to_the_strong_side(gateway: Gateway, store: MemoryStore,
                                                             demo: DemoProviderServer) -> None:
    demo.set_behaviour(WEAK, Behaviour(reply=REFUTED))
    ctx = request_context(gateway)
    result = await gateway.complete(ask(), ctx)
    route = result.body["mix"]["route"]
    assert result.body["model"] == STRONG == route["chosen"] and route["side"] == "strong"
    assert route["score"] == 0.0 and "< 0.5" in route["why"]
    assert ctx.record is not None
    assert [(c.layer, c.role, c.model) for c in ctx.record.calls] == [(1, "answer", WEAK), (2, "verify", WEAK),
                                                                       (3, "answer", STRONG)]


async def test_the_request_sets_the_threshold_and_a_cost_ceiling_keeps_the_weak_answer(
        gateway: Gateway, store: MemoryStore, demo: DemoProviderServer) -> None:
    demo.set_behaviour(WEAK, Behaviour(reply=REFUTED))
    lenient = await gateway.complete(ask(route={"threshold": 0}), request_context(gateway))
    assert lenient.body["model"] == WEAK and lenient.body["mix"]["route"]["threshold"] == 0
    capped = await gateway.complete(ask(route={"max_cost_usd": 1e-9}), request_context(gateway))
    assert capped.body["model"] == WEAK and "max_cost_usd" in capped.body["mix"]["route"]["why"]


async def test_a_share_means_nothing_to_a_cascade(gateway: Gateway, store: MemoryStore) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await gateway.complete(ask(route={"strong_share": 0.3}), request_context(gateway))
    assert refused.value.param == "route.strong_share" and "threshold" in refused.value.message


async def test_when_the_strong_side_fails_the_weak_answer_is_kept(gateway: Gateway, store: MemoryStore,
                                                                  demo: DemoProviderServer) -> None:
    demo.set_behaviour(WEAK, Behaviour(reply=REFUTED))
    for model in RANKED:  # every model of the ranking but the weak side's fails
        if f"openai/{model}" != WEAK:
            demo.set_behaviour(f"{provider_of(model)}/{model}", Behaviour(status=503))
    ctx = request_context(gateway)
    result = await gateway.complete(ask(), ctx)
    route = result.body["mix"]["route"]
    assert result.body["model"] == WEAK and route["side"] == "weak" and "strong side failed" in route["why"]
    # The strong side's fallbacks reach down the ranking, but never back to the model just refuted.
    assert ctx.record is not None
    escalated = [c.model for c in ctx.record.calls if c.layer == 3]
    assert escalated and WEAK not in escalated


def provider_of(model: str) -> str:
    return {"claude": "anthropic", "gemini": "google"}.get(model.split("-")[0], "openai")


async def test_a_provider_that_ignores_n_is_asked_again_for_the_missing_verdicts(
        gateway: Gateway, store: MemoryStore, demo: DemoProviderServer) -> None:
    store.put_mix({"id": "route/cascade/haiku", "kind": "route", "strong": "index/lmsys-overall",
                   "weak": "anthropic/claude-haiku-4-5", "router": "self-verify", "verify_samples": 3})
    demo.set_behaviour("anthropic/claude-haiku-4-5", Behaviour(reply=VERIFIED))
    ctx = request_context(gateway)
    result = await gateway.complete(ask("route/cascade/haiku"), ctx)
    assert result.body["mix"]["route"]["verdicts"] == 3 and result.body["mix"]["route"]["side"] == "weak"
    assert ctx.record is not None
    assert [c.role for c in ctx.record.calls] == ["answer", "verify", "verify", "verify"]


async def test_a_cascaded_stream_explains_in_its_first_chunk(gateway: Gateway, store: MemoryStore,
                                                             demo: DemoProviderServer) -> None:
    demo.set_behaviour(WEAK, Behaviour(reply=REFUTED))
    result = await gateway.stream(ask(stream=True), request_context(gateway))
    lines = [line async for line in result.lines]
    first = json.loads(lines[0][6:])
    assert first["model"] == STRONG and first["mix"]["route"]["side"] == "strong"
    assert first["mix"]["route"]["score"] == 0.0


def test_a_cascade_describes_both_sides_and_its_verification_threshold(gateway: Gateway, store: MemoryStore) -> None:
    view = gateway.registry.describe("route/cascade/auto")
    assert view["resolution"] == {"strong": STRONG, "weak": WEAK, "router": "self-verify", "threshold": 0.5}
    assert view["definition"]["verify_samples"] == 4


async def test_when_the_weak_side_fails_the_strong_side_answers(gateway: Gateway, store: MemoryStore,
                                                                demo: DemoProviderServer) -> None:
    for model in RANKED:  # every model close enough to be the weak side fails; the leader answers
        if model != "gpt-4o":
            demo.set_behaviour(f"{provider_of(model)}/{model}", Behaviour(status=503))
    result = await gateway.complete(ask(), request_context(gateway))
    route = result.body["mix"]["route"]
    assert result.body["model"] == STRONG and route["side"] == "strong" and "weak side failed" in route["why"]
