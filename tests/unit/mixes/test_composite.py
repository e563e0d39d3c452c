"""Synthesis, cascade and vote mixes against loopback providers with known answers, latencies and faults."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mixcore.catalog import get_catalog
from mixcore.errors import AllCandidatesFailed, MixcoreError
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.composite import MOA_PROMPT, normalise_answer, parse_score
from mixcore.mixes.gateway import Gateway
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore
from tests.conftest import request_context, use_store

pytestmark = pytest.mark.anyio
QUESTION = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "What is 6 x 7?"}]


def p(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, **extra}


MIXES = [
    {"id": "synthesis/test-moa", "kind": "synthesis", "min_proposers": 2, "straggler_seconds": 0.3,
     "layers": [{"proposers": [p("local/m-a"), p("local/m-b"), p("local/m-c")]},
                {"proposers": [p("local/m-a"), p("local/m-b")], "min_proposers": 1}],
     "aggregator": [p("local/m-d"), p("local/m-fast")]},
    {"id": "synthesis/priced", "kind": "synthesis", "min_proposers": 2,
     "layers": [{"proposers": [p("openai/gpt-4o-mini"), p("anthropic/claude-haiku-4-5"),
                               p("google/gemini-2.5-flash")]}],
     "aggregator": [p("openai/gpt-4o")]},
    {"id": "cascade/test", "kind": "cascade", "judge": p("local/m-judge"), "judge_samples": 3,
     "steps": [{"model": p("local/m-a"), "threshold": 0.8}, {"model": p("local/m-b"), "threshold": 0.8},
               {"model": p("local/m-c")}]},
    {"id": "vote/test", "kind": "vote", "samples": 5,
     "voters": [p("local/m-a"), p("local/m-b"), p("local/m-c"), p("local/m-d"), p("local/m-fast")]},
]


@pytest.fixture
def composite(gateway: Gateway) -> Gateway:
    store = MemoryStore()
    for mix in MIXES:
        store.put_mix(mix)
    gateway.upstream.settings.cache_ttl_seconds = 0
    use_store(gateway, store)
    return gateway


def request(model: str, **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": QUESTION, **extra})


def reply(demo: DemoProviderServer, model: str, text: str, **extra: Any) -> None:
    demo.set_behaviour(f"local/{model}", Behaviour(reply=text, **extra))


async def test_each_layer_receives_the_previous_answers_the_moa_way(composite: Gateway,
                                                                    demo: DemoProviderServer) -> None:
    for name in ("m-a", "m-b", "m-c", "m-d"):
        reply(demo, name, f"answer from {name}")
    result = await composite.complete(request("synthesis/test-moa", include_proposals=True),
                                      request_context(composite, "k"))
    assert result.body["model"] == "local/m-d"
    assert result.body["choices"][0]["message"]["content"] == "answer from m-d"
    first_layer = demo.calls_for("local/m-c")[0].body["messages"]
    assert first_layer == QUESTION  # layer 1 sees the question only
    second_layer = demo.calls_for("local/m-a")[1].body["messages"]
    system = second_layer[0]["content"]
    assert system.startswith("You are helpful.\n\n" + MOA_PROMPT)
    assert system.endswith("\n1. answer from m-a\n2. answer from m-b\n3. answer from m-c")
    assert second_layer[1:] == QUESTION[1:]
    aggregator = demo.calls_for("local/m-d")[0].body["messages"][0]["content"]
    assert aggregator.endswith("\n1. answer from m-a\n2. answer from m-b")
    proposals = result.body["mix"]["proposals"]
    assert [(x["layer"], x["model"]) for x in proposals] == [(1, "local/m-a"), (1, "local/m-b"), (1, "local/m-c"),
                                                             (2, "local/m-a"), (2, "local/m-b")]
    roles = [(c["layer"], c["role"]) for c in result.body["mix"]["calls"]]
    assert sorted(roles) == [(1, "proposer")] * 3 + [(2, "proposer")] * 2 + [(3, "aggregator")]


async def test_a_failing_proposer_is_dropped_while_the_quorum_holds(composite: Gateway,
                                                                    demo: DemoProviderServer) -> None:
    demo.set_behaviour("local/m-b", Behaviour(status=500))
    result = await composite.complete(request("synthesis/test-moa"), request_context(composite, "k"))
    layers = result.body["mix"]["layers"]
    assert layers[0]["answered"] == ["local/m-a", "local/m-c"]
    assert layers[0]["failed"] and layers[0]["failed"][0].startswith("local/m-b")
    system = demo.calls_for("local/m-d")[0].body["messages"][0]["content"]
    assert "\n1. " in system and "\n2. " not in system  # layer 2 had one answer left: m-a (m-b failed)


async def test_quorum_lost_fails_the_request(composite: Gateway, demo: DemoProviderServer) -> None:
    demo.set_behaviour("local/m-a", Behaviour(status=500))
    demo.set_behaviour("local/m-b", Behaviour(status=500))
    with pytest.raises(AllCandidatesFailed) as failed:
        await composite.complete(request("synthesis/test-moa"), request_context(composite, "k"))
    assert "quorum of 2" in failed.value.message


async def test_a_hanging_proposer_is_cut_at_the_straggler_deadline(composite: Gateway,
                                                                   demo: DemoProviderServer) -> None:
    demo.set_behaviour("local/m-c", Behaviour(fault="hang", hang_seconds=30))
    ctx = request_context(composite, "k")
    result = await composite.complete(request("synthesis/test-moa"), ctx)
    layer = result.body["mix"]["layers"][0]
    assert layer["answered"] == ["local/m-a", "local/m-b"] and layer["dropped_stragglers"] == ["local/m-c"]
    assert ctx.record is not None
    cancelled = [c for c in ctx.record.calls if c.outcome == "cancelled"]
    assert len(cancelled) == 1 and cancelled[0].model == "local/m-c" and cancelled[0].estimated
    # Cut off 0.3 s after the quorum, long before the 30 s hang would have ended.
    assert cancelled[0].latency_ms < 30_000


# What each model of synthesis/priced reports for its call, and its price in the fixture price tables (models.dev,
# USD per 1M input and output tokens): the expected cost below is this arithmetic, not the record's own counts.
PRICED_CALLS = {"openai/gpt-4o-mini": ((0.15, 0.6), (100, 20)), "anthropic/claude-haiku-4-5": ((1.0, 5.0), (110, 30)),
                "google/gemini-2.5-flash": ((0.3, 2.5), (120, 40)), "openai/gpt-4o": ((2.5, 10.0), (400, 50))}


async def test_usage_and_cost_are_the_sum_of_every_call(composite: Gateway, demo: DemoProviderServer) -> None:
    for model_id, (_, (prompt, completion)) in PRICED_CALLS.items():
        reported = ({"input_tokens": prompt, "output_tokens": completion} if model_id.startswith("anthropic/")
                    else {"prompt_tokens": prompt, "completion_tokens": completion})
        demo.set_behaviour(model_id, Behaviour(usage=reported))
    ctx = request_context(composite, "k")
    result = await composite.complete(request("synthesis/priced"), ctx)
    assert ctx.record is not None and len(ctx.record.calls) == 4
    catalog = get_catalog()
    assert all((catalog.get(m).price.input, catalog.get(m).price.output) == rates  # type: ignore[union-attr]
               for m, (rates, _) in PRICED_CALLS.items())
    usage = result.body["usage"]
    # 100×0.15 + 20×0.6 + 110×1 + 30×5 + 120×0.3 + 40×2.5 + 400×2.5 + 50×10 = 1,923 USD per 1M tokens
    assert usage["cost"] == pytest.approx(1_923 / 1e6)
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (100 + 110 + 120 + 400, 20 + 30 + 40 + 50)


async def test_synthesis_streams_the_aggregator(composite: Gateway, demo: DemoProviderServer) -> None:
    reply(demo, "m-d", "the final synthesis")
    ctx = request_context(composite, "k")
    result = await composite.stream(request("synthesis/test-moa", stream=True,
                                            stream_options={"include_usage": True}), ctx)
    lines = [line async for line in result.lines]
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "the final synthesis" and lines[-1] == "data: [DONE]\n\n"
    assert demo.calls_for("local/m-d")[0].body["stream"] is True
    assert ctx.record is not None and len(ctx.record.calls) == 6


@pytest.mark.parametrize(("scores", "answered_by", "decisions"), [
    (["0.9"], "local/m-a", ["accept"]),
    (["0.2", "0.95"], "local/m-b", ["escalate", "accept"]),
    (["0.1", "0.3"], "local/m-c", ["escalate", "escalate", "accept (last step)"]),
])
async def test_cascade_escalates_below_the_threshold(composite: Gateway, demo: DemoProviderServer,
                                                     scores: list[str], answered_by: str,
                                                     decisions: list[str]) -> None:
    # The judge replies with the scores in turn, three samples per step (judge_samples=3).
    state: dict[str, int] = {"calls": 0}
    demo.set_behaviour("local/m-judge", Behaviour(reply=scores[0]))
    original = demo.state.behaviour_for

    def scripted(provider: str, model: str) -> tuple[str, Behaviour]:
        if model == "m-judge":
            state["calls"] += 1
            return "local/m-judge", Behaviour(reply=scores[min((state["calls"] - 1) // 3, len(scores) - 1)])
        return original(provider, model)

    demo.state.behaviour_for = scripted  # type: ignore[method-assign]
    try:
        result = await composite.complete(request("cascade/test"), request_context(composite, "k"))
    finally:
        demo.state.behaviour_for = original  # type: ignore[method-assign]
    assert result.body["model"] == answered_by
    steps = result.body["mix"]["steps"]
    assert [s["decision"] for s in steps] == decisions
    judged = [s for s in steps if "score" in s]
    assert [s["score"] for s in judged] == [float(x) for x in scores[: len(judged)]]
    assert all(s["threshold"] == 0.8 for s in judged)
    assert state["calls"] == 3 * len(judged)


async def test_vote_majority_with_agreement(composite: Gateway, demo: DemoProviderServer) -> None:
    reply(demo, "m-a", "Let me think. 6 x 7 = 42.\nThe answer is 42.")
    reply(demo, "m-b", "42")
    reply(demo, "m-c", "The final answer is: **42.0**")
    reply(demo, "m-d", "The answer is 41.")
    reply(demo, "m-fast", "41")
    result = await composite.complete(request("vote/test"), request_context(composite, "k"))
    mix = result.body["mix"]
    assert mix["winner"] == "42" and mix["agreement"] == 0.6
    assert result.body["model"] == "local/m-a"  # the highest-ranked voter among the majority
    assert sorted(v["answer"] for v in mix["votes"]) == ["41", "41", "42", "42", "42"]


async def test_vote_tie_goes_to_the_highest_ranked_voter(composite: Gateway, demo: DemoProviderServer) -> None:
    for name, text in (("m-a", "B"), ("m-b", "(C)"), ("m-c", "c."), ("m-d", "b"), ("m-fast", "D")):
        reply(demo, name, text)
    result = await composite.complete(request("vote/test"), request_context(composite, "k"))
    assert result.body["mix"]["winner"] == "B" and result.body["model"] == "local/m-a"


@pytest.mark.parametrize(("text", "expected"), [
    ("The answer is 1,024.", "1024"), ("\\boxed{3.50}", "3.5"), ("(b)", "B"), ("Answer: Paris!", "paris"),
    ("Some reasoning\nSo: yes", "so yes"), ("final answer is -7", "-7"),
])
def test_vote_normalisation(text: str, expected: str) -> None:
    assert normalise_answer(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("0.85", 0.85), ("Score: 1", 1.0), (".5", 0.5),
                                                ("I'd say 0.7.", 0.7), ("great", None), ("7", None)])
def test_judge_score_parsing(text: str, expected: float | None) -> None:
    assert parse_score(text) == expected


async def test_a_hanging_aggregator_leaves_its_fallback_time_to_answer(composite: Gateway,
                                                                        demo: DemoProviderServer) -> None:
    # A 5 s request budget and a 20 s attempt timeout: before, the hang used all the time left (504).
    composite.upstream.settings.attempt_timeout_seconds = 20
    demo.set_behaviour("local/m-d", Behaviour(fault="hang", hang_seconds=10))
    request = ChatCompletionRequest.model_validate({"model": "synthesis/test-moa", "messages": QUESTION})
    ctx = request_context(composite)
    result = await composite.complete(request, ctx)
    assert result.body["model"] == "local/m-fast"
    aggregators = [c for c in ctx.calls if c.role == "aggregator"]
    assert [(c.model, c.outcome) for c in aggregators] == [("local/m-d", "error"), ("local/m-fast", "ok")]


def arena(category: str, names: list[str]) -> dict[str, Any]:
    return {"source": "lmsys", "category": category, "fetched_at": "2026-11-20T00:00:00+00:00",
            "data_date": "2026-11-20", "content_hash": category, "metric": "arena score",
            "entries": [{"rank": i + 1, "name": n, "key": None, "score": 1500.0 - i} for i, n in enumerate(names)]}


async def test_moa_proposers_are_four_distinct_models_and_the_mix_says_who_stood_in(gateway: Gateway,
                                                                                   demo: DemoProviderServer) -> None:
    """Coding #1 (Opus 4.5 with thinking) and math #1 (Opus 4.5) are one model: math's next distinct one
    proposes instead. The defaults' moa and self-consistency definitions, on rankings written here."""
    store = MemoryStore()
    store.put_ranking(arena("overall", ["gpt-5.1", "claude-sonnet-4-5-20250929", "gemini-2.5-pro"]))
    store.put_ranking(arena("coding", ["claude-opus-4-5-20251101-thinking-32k", "gpt-5.1"]))
    store.put_ranking(arena("math", ["claude-opus-4-5-20251101", "gpt-5.1", "gemini-2.5-pro", "grok-4"]))
    gateway.upstream.settings.cache_ttl_seconds = 0
    use_store(gateway, store)
    result = await gateway.complete(request("synthesis/moa"), request_context(gateway, "k"))
    first = result.body["mix"]["layers"][0]
    assert sorted(first["answered"]) == sorted(["openai/gpt-5.1", "anthropic/claude-sonnet-4-5-20250929",
                                                "anthropic/claude-opus-4-5-20251101:thinking-32k",
                                                "google/gemini-2.5-pro"])
    assert first["substituted"] == [{"member": "index/lmsys-math#1", "instead_of": "anthropic/claude-opus-4-5-20251101",
                                     "model": "google/gemini-2.5-pro", "reason": first["substituted"][0]["reason"]}]
    thinking = [c.body for c in demo.calls_for("anthropic/claude-opus-4-5-20251101")]
    assert thinking and all(b.get("thinking") == {"type": "enabled", "budget_tokens": 32768} for b in thinking)

    demo.reset()
    voted = await gateway.complete(request("vote/self-consistency"), request_context(gateway, "k"))
    assert [v["model"] for v in voted.body["mix"]["votes"]] == ["openai/gpt-5.1"] * 5


async def test_a_proposer_that_cannot_be_resolved_fails_alone(gateway: Gateway) -> None:
    """Resolving a layer's proposers up front (for diversity) must not turn one bad position into a failed layer."""
    store = MemoryStore()
    store.put_ranking(arena("coding", ["gpt-5.1", "claude-sonnet-4-5-20250929"]))
    store.put_mix({"id": "synthesis/short-ranking", "kind": "synthesis", "min_proposers": 2,
                   "layers": [{"proposers": [p("index/lmsys-coding#1"), p("index/lmsys-coding#2"),
                                             p("index/lmsys-coding#9")]}],
                   "aggregator": [p("index/lmsys-coding#1")]})
    gateway.upstream.settings.cache_ttl_seconds = 0
    use_store(gateway, store)
    result = await gateway.complete(request("synthesis/short-ranking"), request_context(gateway, "k"))
    layer = result.body["mix"]["layers"][0]
    assert sorted(layer["answered"]) == ["anthropic/claude-sonnet-4-5-20250929", "openai/gpt-5.1"]
    assert len(layer["failed"]) == 1 and "index/lmsys-coding#9" in layer["failed"][0]


async def test_the_requests_mix_constraints_hold_for_every_member(composite: Gateway) -> None:
    # synthesis/priced: proposers gpt-4o-mini, claude-haiku-4-5, gemini-2.5-flash; aggregator gpt-4o. Without
    # anthropic, two proposers remain (the quorum) and the answer comes; no call goes to anthropic.
    ctx = request_context(composite, "k")
    result = await composite.complete(request("synthesis/priced", mix={"deny_providers": ["anthropic"]}), ctx)
    assert ctx.record is not None
    assert sorted(c.model for c in ctx.record.calls) == ["google/gemini-2.5-flash", "openai/gpt-4o",
                                                         "openai/gpt-4o-mini"]
    failed = result.body["mix"]["layers"][0]["failed"]
    assert len(failed) == 1 and "anthropic/claude-haiku-4-5" in failed[0]
    # Without openai, the aggregator breaks the constraints too: the mix cannot answer, and says why, calling
    # nobody it was told not to.
    ctx = request_context(composite, "k")
    with pytest.raises(MixcoreError) as refused:
        await composite.complete(request("synthesis/priced", mix={"deny_providers": ["openai"]}), ctx)
    assert "constraints" in refused.value.message
    assert ctx.record is None or all(c.provider != "openai" for c in ctx.record.calls)
