"""Index mixes: resolution against stored rankings, and fallback against loopback providers that really fail."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from mixcore.catalog import get_catalog
from mixcore.errors import AllCandidatesFailed, InvalidRequest, MixUnavailable
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.registry import MixRegistry
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore
from tests.conftest import REPO, request_context, use_store

pytestmark = pytest.mark.anyio

# A ranking written here: each name is an API id in the models.dev price table (tests/fixtures/pricing).
RANKED = ["not-a-real-model-codename", "gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "gpt-4o-mini",
          "claude-haiku-4-5"]


def ranking(names: list[str], category: str = "coding",
            fetched_at: str = "2026-11-20T00:00:00+00:00") -> dict[str, Any]:
    entries = [{"rank": i + 1, "name": n, "key": None, "score": 1500.0 - 10 * i} for i, n in enumerate(names)]
    return {"source": "lmsys", "category": category, "entries": entries, "fetched_at": fetched_at,
            "data_date": fetched_at[:10], "content_hash": str(hash(tuple(names))), "metric": "arena score"}


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.put_ranking(ranking(RANKED))
    memory.put_ranking(ranking(RANKED, category="vision"))
    return memory


@pytest.fixture
def registry(gateway: Gateway, store: MemoryStore) -> MixRegistry:
    gateway.upstream.settings.cache_ttl_seconds = 0
    gateway.upstream.settings.attempt_timeout_seconds = 1.0
    gateway.upstream.cooldowns.seconds = 0.5
    return use_store(gateway, store)


def request(model: str = "index/lmsys-coding", **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": [{"role": "user", "content": "hi"}],
                                                 **extra})


async def test_answered_by_the_top_callable_model(gateway: Gateway, registry: MixRegistry) -> None:
    result = await gateway.complete(request(), request_context(gateway, "key_test"))
    assert result.body["model"] == "openai/gpt-4o"
    mix = result.body["mix"]
    assert mix["id"] == "index/lmsys-coding" and mix["ranking"]["category"] == "coding"
    assert mix["skipped"][0]["name"] == "not-a-real-model-codename"
    assert mix["skipped"][0]["reason"].startswith("unmapped")
    assert [a["outcome"] for a in mix["attempts"]] == ["ok"]
    assert result.headers["x-mix-id"] == "index/lmsys-coding" and result.headers["x-mix-model"] == "openai/gpt-4o"


@pytest.mark.parametrize("behaviour", [Behaviour(status=503), Behaviour(fault="hang", hang_seconds=30),
                                       Behaviour(fault="drop"), Behaviour(status=429, retry_after=30)])
async def test_falls_back_to_the_next_candidate(gateway: Gateway, registry: MixRegistry, demo: DemoProviderServer,
                                                behaviour: Behaviour) -> None:
    demo.set_behaviour("openai", behaviour)
    result = await gateway.complete(request(), request_context(gateway, "key_test"))
    assert result.body["model"] == "anthropic/claude-sonnet-4-5"
    attempts = result.body["mix"]["attempts"]
    assert [a["model"] for a in attempts] == ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]
    assert [a["outcome"] for a in attempts] == ["error", "ok"]


async def test_context_length_error_falls_back(gateway: Gateway, registry: MixRegistry,
                                               demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o", Behaviour(
        status=400, message="This model's maximum context length is 128000 tokens. (context_length_exceeded)"))
    result = await gateway.complete(request(), request_context(gateway, "key_test"))
    assert result.body["model"] == "anthropic/claude-sonnet-4-5"
    assert result.body["mix"]["attempts"][0]["error"] == "context_length_exceeded"


async def test_the_clients_own_error_never_falls_back(gateway: Gateway, registry: MixRegistry,
                                                     demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o", Behaviour(status=400, message="Invalid value for 'tool_choice'."))
    with pytest.raises(InvalidRequest) as rejected:
        await gateway.complete(request(), request_context(gateway, "key_test"))
    assert "tool_choice" in rejected.value.message
    assert demo.calls_for("anthropic/claude-sonnet-4-5") == []


async def test_every_candidate_failing_is_503_with_attempts(gateway: Gateway, registry: MixRegistry,
                                                            demo: DemoProviderServer) -> None:
    demo.set_behaviour("*", Behaviour(status=503))
    with pytest.raises(AllCandidatesFailed) as failed:
        await gateway.complete(request(), request_context(gateway, "key_test"))
    assert failed.value.status == 503
    assert len(failed.value.attempts) == 5  # top_n of the default mix
    assert len(gateway.cost_sink.records) == 1  # type: ignore[attr-defined]


async def test_failing_provider_cools_down_and_comes_back(gateway: Gateway, registry: MixRegistry,
                                                          demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(status=500))
    for tenant in ("key_a", "key_b", "key_a"):  # failing for two tenants: it is the provider, not a tenant
        await gateway.complete(request(), request_context(gateway, tenant))
    calls_before = len(demo.calls_for("openai/gpt-4o"))
    result = await gateway.complete(request(), request_context(gateway, "key_test"))
    assert "cooling down" in " ".join(s["reason"] for s in result.body["mix"]["skipped"])
    assert len(demo.calls_for("openai/gpt-4o")) == calls_before  # not even tried
    demo.set_behaviour("openai", None)
    await anyio.sleep(0.6)
    assert (await gateway.complete(request(), request_context(gateway, "key_test"))).body["model"] == "openai/gpt-4o"


async def test_new_ranking_changes_the_answer_without_redeploy(gateway: Gateway, registry: MixRegistry,
                                                               store: MemoryStore) -> None:
    assert (await gateway.complete(request(), request_context(gateway, "k"))).body["model"] == "openai/gpt-4o"
    store.put_ranking(ranking(["claude-haiku-4-5", "gpt-4o"], fetched_at="2026-11-21T00:00:00+00:00"))
    answer = await gateway.complete(request(), request_context(gateway, "k"))
    assert answer.body["model"] == "anthropic/claude-haiku-4-5"


async def test_constraints_and_request_overrides(gateway: Gateway, registry: MixRegistry) -> None:
    # models.dev prices: gpt-4o $10/1M out, claude-sonnet-4-5 $15, gemini-2.5-pro $10, gpt-4o-mini $0.60.
    cheap = await gateway.complete(request(mix={"max_price": 1}), request_context(gateway, "k"))
    assert cheap.body["model"] == "openai/gpt-4o-mini"
    reasons = {s["model"]: s["reason"] for s in cheap.body["mix"]["skipped"] if s["model"]}
    assert "above max_price" in reasons["openai/gpt-4o"]
    no_openai = await gateway.complete(request(mix={"deny_providers": ["openai"]}), request_context(gateway, "k"))
    assert no_openai.body["model"] == "anthropic/claude-sonnet-4-5"
    resolution = registry.resolve_index(registry.get("index/lmsys-coding"),
                                        request(mix={"top_n": 2}).mix)
    assert [c.model_id for c in resolution.candidates] == ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]


async def test_vision_mix_needs_image_input(gateway: Gateway, registry: MixRegistry) -> None:
    catalog = get_catalog()
    resolution = registry.resolve_index(registry.get("index/lmsys-vision"))
    assert all("image" in catalog.models[c.model_id].modalities.input for c in resolution.candidates)


async def test_unconfigured_provider_is_skipped(gateway: Gateway, registry: MixRegistry) -> None:
    from dataclasses import replace

    gateway.upstream.providers["openai"] = replace(gateway.upstream.providers["openai"], configured=False, api_key="")
    result = await gateway.complete(request(), request_context(gateway, "k"))
    assert result.body["model"] == "anthropic/claude-sonnet-4-5"
    assert any(s["reason"] == "provider openai not configured" for s in result.body["mix"]["skipped"])


async def test_no_ranking_yet_is_a_clear_503(gateway: Gateway, store: MemoryStore, registry: MixRegistry) -> None:
    store.put_mix({"id": "index/seal-humanitys-last-exam", "kind": "index", "source": "seal",
                   "category": "humanitys-last-exam"})  # not a default category: nothing shipped for it
    with pytest.raises(MixUnavailable) as missing:
        await gateway.complete(request("index/seal-humanitys-last-exam"), request_context(gateway, "k"))
    assert "mixcore refresh" in missing.value.message


async def test_a_fresh_stack_answers_from_the_packaged_snapshot_until_a_refresh(gateway: Gateway, store: MemoryStore,
                                                                                registry: MixRegistry) -> None:
    packaged = json.loads((REPO / "src/mixcore/leaderboards/data/snapshot.json").read_text())
    seal = next(r for r in packaged["rankings"] if (r["source"], r["category"]) == ("seal", "spanish"))
    assert store.get_latest("seal", "spanish") is None
    result = await gateway.complete(request("index/seal-spanish"), request_context(gateway, "k"))
    assert result.body["mix"]["ranking"]["fetched_at"] == seal["fetched_at"]
    store.put_ranking({**ranking(RANKED, category="spanish"), "source": "seal"})  # the first refresh
    result = await gateway.complete(request("index/seal-spanish"), request_context(gateway, "k"))
    assert result.body["model"] == "openai/gpt-4o" and result.body["mix"]["ranking"]["source"] == "seal"
    assert result.body["mix"]["ranking"]["fetched_at"] == "2026-11-20T00:00:00+00:00"


async def test_stream_falls_back_before_the_first_byte(gateway: Gateway, registry: MixRegistry,
                                                       demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(status=502))
    result = await gateway.stream(request(stream=True), request_context(gateway, "k"))
    lines = [line async for line in result.lines]
    assert "anthropic/claude-sonnet-4-5" in "".join(lines)
    assert result.headers["x-mix-model"] == "anthropic/claude-sonnet-4-5"
    assert lines[-1] == "data: [DONE]\n\n"


async def test_stream_broken_after_first_byte_ends_with_an_error_chunk(gateway: Gateway, registry: MixRegistry,
                                                                       demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(fault="drop_mid_stream"))
    result = await gateway.stream(request(stream=True), request_context(gateway, "k"))
    lines = [line async for line in result.lines]
    assert '"error"' in lines[-2] and lines[-1] == "data: [DONE]\n\n"
    assert demo.calls_for("anthropic/claude-sonnet-4-5") == []  # no fallback once bytes went out


async def test_direct_model_with_openrouter_style_fallbacks(gateway: Gateway, registry: MixRegistry,
                                                            demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(status=500))
    result = await gateway.complete(request("openai/gpt-4o", models=["google/gemini-2.5-flash"]),
                                    request_context(gateway, "k"))
    assert result.body["model"] == "google/gemini-2.5-flash"


async def test_an_operator_pins_and_denies_models_in_a_mix_definition(gateway: Gateway, store: MemoryStore,
                                                                        registry: MixRegistry) -> None:
    store.put_mix({"id": "index/guarded", "kind": "index", "source": "lmsys", "category": "coding",
                   "deny": ["gpt-4o", "anthropic/claude-sonnet-4-5"], "pin": ["openai/gpt-4o-mini"]})
    result = await gateway.complete(request("index/guarded"), request_context(gateway))
    assert result.body["model"] == "openai/gpt-4o-mini"  # pinned: answers first
    assert "skipped" not in result.body["mix"]  # the pinned model answered: nothing was passed over on the way
    resolution = registry.describe("index/guarded")["resolution"]
    denied = {s["name"] for s in resolution["skipped"] if s["reason"] == "denied by the mix definition"}
    assert denied == {"gpt-4o", "claude-sonnet-4-5"}  # by leaderboard name, and by model id
    candidates = resolution["candidates"]
    assert [c["model"] for c in candidates][:2] == ["openai/gpt-4o-mini", "google/gemini-2.5-pro"]


async def test_one_tenant_cannot_cool_a_model_down_for_the_others(gateway: Gateway, registry: MixRegistry,
                                                                  demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o", Behaviour(status=500))
    for _ in range(4):  # the same key, past the threshold of 3
        await gateway.complete(request(), request_context(gateway, "key_noisy"))
    noisy = await gateway.complete(request(), request_context(gateway, "key_noisy"))
    assert ("openai/gpt-4o", "skipped", "cooling_down") in [(a["model"], a["outcome"], a.get("error"))
                                                             for a in noisy.body["mix"]["attempts"]]
    demo.set_behaviour("openai/gpt-4o", None)
    calls_before = len(demo.calls_for("openai/gpt-4o"))
    other = await gateway.complete(request(), request_context(gateway, "key_quiet"))
    assert other.body["model"] == "openai/gpt-4o"  # another tenant is served by the model at once
    assert len(demo.calls_for("openai/gpt-4o")) == calls_before + 1


async def test_a_long_generation_that_times_out_cools_nothing_down(gateway: Gateway, registry: MixRegistry,
                                                                   demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o", Behaviour(latency_ms=1500))  # past the 1 s attempt timeout
    for tenant in ("key_a", "key_b", "key_c"):
        answer = await gateway.complete(request(), request_context(gateway, tenant))
        assert answer.body["mix"]["attempts"][0]["error"] == "timeout"
    assert gateway.upstream.cooldowns.cooling("openai", "openai/gpt-4o") == 0


async def test_a_model_its_provider_says_is_gone_is_not_called_again(gateway: Gateway, registry: MixRegistry,
                                                                    demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o", Behaviour(status=404, message="The model `gpt-4o` does not exist"))
    first = await gateway.complete(request(), request_context(gateway, "key_a"))
    assert first.body["model"] == "anthropic/claude-sonnet-4-5"
    second = await gateway.complete(request(), request_context(gateway, "key_b"))  # another tenant, same verdict
    assert second.body["model"] == "anthropic/claude-sonnet-4-5"
    assert len(demo.calls_for("openai/gpt-4o")) == 1
    skipped = {s["model"]: s["reason"] for s in registry.describe("index/lmsys-coding")["resolution"]["skipped"]}
    assert "404 model_not_found" in skipped["openai/gpt-4o"]
    assert gateway.upstream.cooldowns.cooling("anthropic") == 0 and gateway.upstream.cooldowns.cooling("openai") == 0
    with pytest.raises(Exception) as direct:  # a direct call still says 404, without a call
        await gateway.complete(request("openai/gpt-4o"), request_context(gateway, "key_c"))
    assert getattr(direct.value, "status", None) == 404
    assert len(demo.calls_for("openai/gpt-4o")) == 1


async def test_allow_providers_keeps_every_other_provider_out(gateway: Gateway, registry: MixRegistry) -> None:
    resolution = registry.resolve_index(registry.get("index/lmsys-coding"),
                                        request(mix={"allow_providers": ["anthropic"]}).mix)
    assert [c.model_id for c in resolution.candidates] == ["anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5"]
    answer = await gateway.complete(request(mix={"allow_providers": ["google"]}), request_context(gateway, "k"))
    assert answer.body["model"] == "google/gemini-2.5-pro"


async def test_a_requested_input_modality_adds_to_the_mixs_own(gateway: Gateway, registry: MixRegistry) -> None:
    # models.dev: of the ranked models, claude-sonnet-4-5, gemini-2.5-pro and claude-haiku-4-5 take PDF input;
    # gpt-4o and gpt-4o-mini take text and images only
    takes_pdf = ["anthropic/claude-sonnet-4-5", "google/gemini-2.5-pro", "anthropic/claude-haiku-4-5"]
    for mix_id in ("index/lmsys-coding", "index/lmsys-vision"):  # no modality of its own; image already required
        resolution = registry.resolve_index(registry.get(mix_id), request(mix={"modalities": ["pdf"]}).mix)
        assert [c.model_id for c in resolution.candidates] == takes_pdf


async def test_max_price_admits_a_model_priced_exactly_at_it(gateway: Gateway, registry: MixRegistry) -> None:
    # models.dev: gpt-4o and gemini-2.5-pro $10 per 1M output tokens, claude-sonnet-4-5 $15
    resolution = registry.resolve_index(registry.get("index/lmsys-coding"), request(mix={"max_price": 10}).mix)
    assert [c.model_id for c in resolution.candidates][:2] == ["openai/gpt-4o", "google/gemini-2.5-pro"]


async def test_a_pinned_model_whose_provider_is_configured_answers_first(gateway: Gateway, store: MemoryStore,
                                                                         registry: MixRegistry) -> None:
    store.put_mix({"id": "index/pinned", "kind": "index", "source": "lmsys", "category": "coding",
                   "pin": ["anthropic/claude-haiku-4-5"]})
    resolution = registry.resolve_index(registry.get("index/pinned"))
    assert resolution.candidates[0].model_id == "anthropic/claude-haiku-4-5"
    assert not [s for s in resolution.skipped if s["model"] == "anthropic/claude-haiku-4-5" and s["rank"] is None]


async def test_keys_whose_own_huge_requests_fail_cannot_cool_a_model_down_for_everyone(
        gateway: Gateway, registry: MixRegistry, demo: DemoProviderServer) -> None:
    # Given a provider that fails whatever it is sent, and two keys sending prompts past the ordinary size
    demo.set_behaviour("openai/gpt-4o", Behaviour(status=500))
    huge = ChatCompletionRequest.model_validate({"model": "index/lmsys-coding",
                                                 "messages": [{"role": "user", "content": "word " * 20_000}]})
    for tenant in ("key_a", "key_b", "key_a", "key_b"):
        await gateway.complete(huge, request_context(gateway, tenant))
    # Then each of them cooled the model down for itself, and a third key is still served by it
    assert gateway.upstream.cooldowns.cooling("openai", "openai/gpt-4o", "key_a") == 0  # 2 failures each, under 3
    assert gateway.upstream.cooldowns.cooling("openai", "openai/gpt-4o") == 0
    # While the same failures of ordinary requests from two keys do cool it down for everyone
    cooldowns = Cooldowns(threshold=3, seconds=30)
    for tenant in ("key_a", "key_b"):
        cooldowns.failed("openai", "openai/gpt-4o", tenant, ordinary=False)
    assert cooldowns.cooling("openai", "openai/gpt-4o") == 0
    for tenant in ("key_a", "key_b", "key_a"):
        cooldowns.failed("openai", "openai/gpt-4o", tenant)
    assert cooldowns.cooling("openai", "openai/gpt-4o") > 0


@pytest.mark.parametrize("defaults", [{"n": 50}, {"max_tokens": 1_000_000}, {"service_tier": "priority"},
                                      {"store": True}])
async def test_a_mixs_defaults_pass_the_checks_a_clients_fields_pass(gateway: Gateway, registry: MixRegistry,
                                                                      store: MemoryStore, demo: DemoProviderServer,
                                                                      defaults: dict[str, Any]) -> None:
    store.put_mix({"id": "index/generous", "kind": "index", "source": "lmsys", "category": "coding",
                   "defaults": defaults})
    with pytest.raises(InvalidRequest):
        await gateway.complete(request("index/generous"), request_context(gateway))
    assert demo.calls_for() == []  # nothing was sent


async def test_a_mixs_sound_defaults_are_sent(gateway: Gateway, registry: MixRegistry, store: MemoryStore,
                                              demo: DemoProviderServer) -> None:
    store.put_mix({"id": "index/generous", "kind": "index", "source": "lmsys", "category": "coding",
                   "defaults": {"temperature": 0.3, "n": 2}})
    await gateway.complete(request("index/generous"), request_context(gateway))
    sent = demo.calls_for()[0].body
    assert (sent["temperature"], sent["n"]) == (0.3, 2)


async def test_a_direct_model_that_breaks_the_requests_mix_constraints_is_never_called(
        gateway: Gateway, registry: MixRegistry, demo: DemoProviderServer) -> None:
    def direct(model: str, **extra: Any) -> ChatCompletionRequest:
        return ChatCompletionRequest.model_validate({"model": model, "messages": [
            {"role": "user", "content": "hi"}], **extra})

    ctx = request_context(gateway, "k")
    with pytest.raises(InvalidRequest) as refused:
        await gateway.complete(direct("openai/gpt-4o", mix={"deny_providers": ["openai"]}), ctx)
    assert refused.value.param == "mix" and "openai/gpt-4o" in refused.value.message
    assert ctx.record is None or not ctx.record.calls
    # Fallback models (`models`) that break them are left out: with the asked model down, gpt-4o ($10/1M output,
    # above max_price 5) is passed over and claude-haiku-4-5 ($5) answers.
    demo.set_behaviour("openai/gpt-4o-mini", Behaviour(status=503))
    answer = await gateway.complete(direct("openai/gpt-4o-mini", models=["openai/gpt-4o", "anthropic/claude-haiku-4-5"],
                                           mix={"max_price": 5}), request_context(gateway, "k"))
    assert answer.body["model"] == "anthropic/claude-haiku-4-5"
    assert "openai/gpt-4o" not in [a["model"] for a in answer.body["mix"]["attempts"]]


async def test_an_image_in_the_request_passes_over_models_without_image_input(gateway: Gateway, store: MemoryStore,
                                                                              registry: MixRegistry) -> None:
    # deepseek-chat leads this ranking but takes text only (catalog modalities): an image goes to the next.
    assert get_catalog().models["deepseek/deepseek-chat"].modalities.input == ["text"]
    store.put_ranking(ranking(["deepseek-chat", "gpt-4o"], fetched_at="2026-11-22T00:00:00+00:00"))
    picture = [{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    seen = ChatCompletionRequest.model_validate({"model": "index/lmsys-coding",
                                                 "messages": [{"role": "user", "content": picture}]})
    answer = await gateway.complete(seen, request_context(gateway, "k"))
    assert answer.body["model"] == "openai/gpt-4o"
    assert {s["model"]: s["reason"] for s in answer.body["mix"]["skipped"]}["deepseek/deepseek-chat"] == \
        "no image input"
    text_only = await gateway.complete(request(), request_context(gateway, "k"))
    assert text_only.body["model"] == "deepseek/deepseek-chat"  # without an image it leads as ranked
