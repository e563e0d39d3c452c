"""Every model gets the fields it can take: a mix's own defaults are fitted to the model, a client's field the model
refuses is a 400 naming both (or a skip in a mix), one output cap goes upstream inside the model's limit, and a
provider's 400 for a field Mixcore chose falls back to the next candidate.

The loopback providers refuse what the real APIs document they refuse (local/demo_providers.documented_refusal,
written from the providers' references, not from the catalog's rules data).
"""

from __future__ import annotations

from typing import Any

import pytest

from mixcore.catalog import get_catalog
from mixcore.catalog.models import ReasoningSettings
from mixcore.catalog.parameters import parameter_rules
from mixcore.errors import InvalidRequest
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.chain import complete_first, stream_first
from mixcore.mixes.definitions import CascadeMix, IndexMix, SynthesisMix, VoteMix, default_mixes
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.parameters import fit_parameters
from mixcore.mixes.upstream import Candidate
from mixcore.providers.errors import UnsupportedParameter
from mixcore.schemas import ChatCompletionRequest
from tests.conftest import request_context

pytestmark = pytest.mark.anyio
USER = [{"role": "user", "content": "Write a function that adds two numbers."}]
CATALOG = get_catalog()
# BigCodeBench-Hard Instruct's #1: o3-mini-2025-01-31 run at reasoning effort medium (its leaderboard name).
LEADER = "openai/o3-mini-2025-01-31:reasoning-medium"


def rules_of(model_id: str) -> Any:
    model = CATALOG.get(model_id)
    assert model is not None, model_id
    return parameter_rules(model)


def test_a_mix_default_temperature_is_not_sent_to_an_openai_reasoning_model() -> None:
    # o3-mini refuses temperature (OpenAI's reasoning guide) and takes its cap as max_completion_tokens
    sent = fit_parameters({"temperature": 0, "max_tokens": 100, "messages": USER}, rules_of("openai/o3-mini"),
                          frozenset({"max_tokens", "messages"}), "openai/o3-mini")
    assert sent == {"max_completion_tokens": 100, "messages": USER}


def test_a_clients_own_temperature_for_an_openai_reasoning_model_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedParameter) as refused:
        fit_parameters({"temperature": 0.5, "messages": USER}, rules_of("openai/o3-mini"),
                       frozenset({"temperature", "messages"}), "openai/o3-mini")
    assert refused.value.field == "temperature" and "openai/o3-mini" in refused.value.message


def test_gpt_5_at_effort_none_takes_temperature_again() -> None:
    high = CATALOG.models["openai/gpt-5.1:reasoning-high"]
    variant = high.model_copy(update={"id": "openai/gpt-5.1:reasoning-none",
                                      "settings": ReasoningSettings(effort="none")})
    assert parameter_rules(high).refuses("temperature")
    sent = fit_parameters({"temperature": 0.3, "messages": USER}, parameter_rules(variant),
                          frozenset({"temperature", "messages"}), variant.id)
    assert sent["temperature"] == 0.3


def test_a_thinking_budget_and_the_answer_fit_inside_the_output_limit() -> None:
    # Claude Opus 4.5 writes at most 64,000 tokens (the price tables); the variant thinks with 32,768 of them
    variant = next(m for m in CATALOG.models.values()
                   if m.base_id == "anthropic/claude-opus-4-5-20251101" and m.settings and m.settings.budget_tokens)
    rules = parameter_rules(variant)
    assert (rules.max_output_tokens, rules.thinking_budget) == (64_000, 32_768)
    sent = fit_parameters({"max_tokens": 60_000, "messages": USER}, rules, frozenset({"max_tokens", "messages"}),
                          variant.id)
    assert sent["max_tokens"] == 64_000 - 32_768  # the adapter adds the budget back: 64,000 in all


def test_exactly_one_output_cap_goes_upstream_the_one_a_budget_reserves() -> None:
    sent = fit_parameters({"max_completion_tokens": 1, "max_tokens": 8000, "messages": USER},
                          rules_of("mistral/codestral-latest"), frozenset({"max_completion_tokens", "max_tokens"}),
                          "mistral/codestral-latest")
    assert sent == {"max_tokens": 1, "messages": USER}
    unknown = fit_parameters({"max_completion_tokens": 1, "max_tokens": 8000}, None,
                             frozenset({"max_completion_tokens", "max_tokens"}), "local/m-fast")
    assert unknown == {"max_completion_tokens": 1}


def callable_models(gateway: Gateway) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every catalog model a default mix can call, with that mix's id and request defaults."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for mix in default_mixes().values():
        ids: list[str] = []
        if isinstance(mix, IndexMix):
            plan = gateway.registry.plan(ChatCompletionRequest(model=mix.id, messages=USER))
            ids = [c.model_id for c in plan.candidates]
        elif isinstance(mix, SynthesisMix):
            ids = [m.model for layer in mix.layers for m in layer.proposers] + [m.model for m in mix.aggregator]
        elif isinstance(mix, CascadeMix):
            ids = [s.model.model for s in mix.steps] + ([mix.judge.model] if mix.judge else [])
        elif isinstance(mix, VoteMix):
            ids = [m.model for m in mix.voters]
        # A member named by index position (index/x#2) is one of the index mixes' candidates, gathered above.
        for model_id in (i for i in ids if not i.startswith("index/")):
            found.setdefault(model_id, (mix.id, dict(mix.defaults)))
    return found


async def test_every_model_a_default_mix_can_call_takes_the_mixs_request_shape(gateway: Gateway) -> None:
    # Given each model any default mix can call, with that mix's defaults and a client's output cap above
    # most models' limits, sent to providers that refuse what the real APIs refuse
    models = callable_models(gateway)
    assert len(models) >= 30 and LEADER in models  # bigcodebench-hard-instruct's #1
    failed = {}
    for model_id, (mix_id, defaults) in sorted(models.items()):
        model = CATALOG.get(model_id)
        candidate = Candidate.of(model) if model is not None else gateway.upstream.direct_candidate(model_id)
        ctx = request_context(gateway)
        ctx.client_fields = frozenset({"messages", "max_tokens"})
        params = {**defaults, "messages": USER, "max_tokens": 100_000}
        # When the call is made as the mix makes it
        try:
            await complete_first(gateway.upstream, ctx, [candidate], params, what=mix_id)
        except Exception as error:
            failed[model_id] = f"{mix_id}: {error}"
    # Then every one answers
    assert failed == {}


async def test_bigcodebench_hard_instruct_answers_with_its_reasoning_leader(gateway: Gateway) -> None:
    request = ChatCompletionRequest(model="index/bigcodebench-hard-instruct", messages=USER)
    result = await gateway.complete(request, request_context(gateway))
    assert result.body["model"] == LEADER
    assert result.body["mix"]["attempts"][0]["outcome"] == "ok"


async def test_a_direct_call_with_a_field_the_model_refuses_is_a_400_naming_it(gateway: Gateway) -> None:
    request = ChatCompletionRequest(model="openai/o3-mini", messages=USER, temperature=0.2)
    with pytest.raises(InvalidRequest) as refused:
        await gateway.complete(request, request_context(gateway))
    assert refused.value.status == 400 and refused.value.param == "temperature"
    assert "openai/o3-mini" in refused.value.message


async def test_in_a_mix_a_candidate_that_refuses_the_clients_field_is_skipped_with_the_reason(
        gateway: Gateway) -> None:
    ctx = request_context(gateway)
    ctx.client_fields = frozenset({"messages", "temperature"})
    candidates = [Candidate.of(CATALOG.models["openai/o3-mini"]), Candidate.of(CATALOG.models["openai/gpt-4o"])]
    opened = await stream_first(gateway.upstream, ctx, candidates, {"messages": USER, "temperature": 0.2},
                                what="index/test")
    assert opened.candidate.model_id == "openai/gpt-4o"
    assert ctx.attempts[0]["outcome"] == "skipped" and ctx.attempts[0]["error"] == "unsupported_parameter"
    assert "temperature" in ctx.attempts[0]["reason"]


async def test_a_providers_400_for_a_field_mixcore_chose_falls_back(gateway: Gateway,
                                                                    demo: DemoProviderServer) -> None:
    # Given a provider that refuses a field Mixcore added (its rules did not know), and another candidate behind it
    demo.set_behaviour("mistral", Behaviour(status=400, message="Unsupported parameter: 'temperature'"))
    ctx = request_context(gateway)
    ctx.client_fields = frozenset({"messages"})
    candidates = [Candidate.of(CATALOG.models["mistral/mistral-large-latest"]),
                  Candidate.of(CATALOG.models["openai/gpt-4o"])]
    # When the mix calls with its own default temperature
    candidate, _ = await complete_first(gateway.upstream, ctx, candidates, {"messages": USER, "temperature": 0},
                                        what="index/test")
    # Then the next candidate answers; the client did nothing wrong
    assert candidate.model_id == "openai/gpt-4o" and ctx.attempts[0]["error"] == "bad_request"


async def test_a_providers_400_for_the_clients_own_field_is_the_clients_error(gateway: Gateway,
                                                                             demo: DemoProviderServer) -> None:
    demo.set_behaviour("mistral", Behaviour(status=400, message="Unsupported parameter: 'temperature'"))
    ctx = request_context(gateway)
    ctx.client_fields = frozenset({"messages", "temperature"})
    candidates = [Candidate.of(CATALOG.models["mistral/mistral-large-latest"]),
                  Candidate.of(CATALOG.models["openai/gpt-4o"])]
    with pytest.raises(InvalidRequest):
        await complete_first(gateway.upstream, ctx, candidates, {"messages": USER, "temperature": 0.5},
                             what="index/test")
