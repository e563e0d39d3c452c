"""The catalog is reproducible from the real data, priced from it, and maps every leader or says why not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mixcore.catalog import get_catalog
from mixcore.catalog.build import Overrides, build_catalog, candidate_keys, leaderboard_names, parse_ranked_name
from mixcore.leaderboards.fetch import LocalFetcher
from mixcore.leaderboards.indexer import refresh
from mixcore.providers.config import provider_definitions
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES, REPO

DATA = REPO / "src" / "mixcore" / "catalog" / "data"
DEFAULT_CATEGORIES = {
    "lmsys": ["overall", "coding", "hard-prompts", "math", "creative-writing", "instruction-following", "chinese",
              "french", "spanish", "german", "japanese", "korean", "russian", "vision"],
    "seal": ["coding", "instruction-following", "math", "spanish", "adversarial-robustness"],
    "bigcodebench": ["complete", "instruct", "hard-complete", "hard-instruct"],
}
GENERIC = "not found on any configured provider's API (codename, retired or not offered)"


def test_catalog_json_is_what_the_builder_makes_from_the_fixtures(tmp_path: Path) -> None:
    overrides = Overrides.model_validate_json((DATA / "overrides.json").read_text())
    names, display_keys = leaderboard_names(FIXTURES / "leaderboards")
    rebuilt = build_catalog(FIXTURES / "pricing", names, overrides, display_keys)
    committed = json.loads((DATA / "catalog.json").read_text())
    assert json.loads(rebuilt.model_dump_json()) == committed


def test_prices_come_from_the_price_tables() -> None:
    modelsdev = json.loads((FIXTURES / "pricing" / "modelsdev_api_2026-04-04.json").read_text())
    openrouter = json.loads((FIXTURES / "pricing" / "openrouter_models_2026-04-04.json").read_text())
    catalog = get_catalog()
    claude = modelsdev["anthropic"]["models"]["claude-sonnet-4-5"]["cost"]
    price = catalog.get("anthropic/claude-sonnet-4-5").price  # type: ignore[union-attr]
    assert price is not None and (price.input, price.output) == (claude["input"], claude["output"])
    raw = next(m for m in openrouter["data"] if m["id"] == "anthropic/claude-sonnet-4.6")
    routed = catalog.get("openrouter/anthropic/claude-sonnet-4.6").price  # type: ignore[union-attr]
    assert routed is not None
    assert routed.input == pytest.approx(float(raw["pricing"]["prompt"]) * 1e6)
    assert routed.output == pytest.approx(float(raw["pricing"]["completion"]) * 1e6)


def test_every_catalog_provider_is_a_known_provider() -> None:
    assert {m.provider for m in get_catalog().models.values()} <= set(provider_definitions())


@pytest.mark.parametrize("name, stem, snapshot, settings", [
    ("o1-2024-12-17 (temperature=1, reasoning=high)", "o1-2024-12-17", "20241217", {"effort": "high"}),
    ("claude-opus-4-5-20251101-thinking-32k", "claude-opus-4-5-20251101", "20251101", {"budget_tokens": 32 * 1024}),
    ("Claude-3.7-Sonnet-20250219 (temperature=1, length=12800, reasoning=3200)", "claude-3.7-sonnet-20250219",
     "20250219", {"budget_tokens": 3200}),
    ("gpt-5.1-high", "gpt-5.1", None, {"effort": "high"}),
    ("Gemini 1.5 Pro (May 2024)", "gemini-1.5-pro", "month", None),
    ("Qwen-Max-0428", "qwen-max-0428", "0428", None),
    ("Claude 3.5 Sonnet (20240620)", "claude-3.5-sonnet", "20240620", None),
])
def test_a_ranked_name_says_its_snapshot_and_settings(name: str, stem: str, snapshot: str | None,
                                                       settings: dict[str, object] | None) -> None:
    ranked = parse_ranked_name(name)
    assert (ranked.stem, ranked.snapshot) == (stem, snapshot)
    assert (ranked.settings.model_dump(exclude_none=True) if ranked.settings else None) == settings


def test_spellings_of_a_stem_reach_the_api_ids() -> None:
    assert "claude-3-5-haiku-20241022" in candidate_keys("claude-3.5-haiku-20241022")
    assert "gemini-3-pro-preview" in candidate_keys("gemini-3-pro")


def test_top_ten_of_every_default_category_maps_or_says_why() -> None:
    store = MemoryStore()
    asyncio.run(refresh(store, LocalFetcher(FIXTURES / "leaderboards")))
    catalog = get_catalog()
    providers = set(provider_definitions())
    for source, categories in DEFAULT_CATEGORIES.items():
        for category in categories:
            ranking = store.get_latest(source, category)
            assert ranking is not None, (source, category)
            for entry in ranking["entries"][:10]:
                model_id = catalog.map_entry(entry)
                if model_id is not None:
                    assert model_id.split("/", 1)[0] in providers
                else:
                    reason = catalog.unmapped_reason(entry.get("key") or entry["name"])
                    assert reason != GENERIC, f"{source}/{category}: {entry['name']} needs a reason in overrides.json"


def test_leaders_map_to_the_ids_in_the_price_data() -> None:
    catalog = get_catalog()
    # Google's only Gemini 3 Pro id in models.dev is gemini-3-pro-preview; Anthropic lists the dated Opus 4.5.
    assert catalog.resolve_name("gemini-3-pro").id == "google/gemini-3-pro-preview"  # type: ignore[union-attr]
    assert catalog.resolve_name("grok-4.1") is None


LITELLM = FIXTURES / "pricing" / "model_prices_and_context_window.json"
OPENROUTER = FIXTURES / "pricing" / "openrouter_models_2026-04-04.json"


@pytest.mark.parametrize("name, model_id, settings", [
    # The arena ran Opus 4.5 with a 32k thinking budget: the variant sends it (and is priced as Opus 4.5).
    ("claude-opus-4-5-20251101-thinking-32k", "anthropic/claude-opus-4-5-20251101", {"budget_tokens": 32768}),
    ("gpt-5.1-high", "openai/gpt-5.1", {"effort": "high"}),
    ("o3-mini-2025-01-31 (temperature=1, reasoning=medium)", "openai/o3-mini-2025-01-31", {"effort": "medium"}),
    ("Claude 3.5 Sonnet (20240620)", "anthropic/claude-3-5-sonnet-20240620", None),
    # deepseek-chat serves V3.2 now; the 2024-12 model is OpenRouter's deepseek-chat, the 0324 one its own id.
    ("DeepSeek-V3", "openrouter/deepseek/deepseek-chat", None),
    ("DeepSeek-V3-0324", "openrouter/deepseek/deepseek-chat-v3-0324", None),
    ("Llama 3.1 405B Instruct", "fireworks/accounts/fireworks/models/llama-v3p1-405b-instruct", None),
])
def test_a_name_maps_to_the_model_that_was_ranked_with_its_settings(name: str, model_id: str,
                                                                    settings: dict[str, object] | None) -> None:
    model = get_catalog().resolve_name(name)
    assert model is not None
    assert (model.base_id or model.id) == model_id
    assert (model.settings.model_dump(exclude_none=True) if model.settings else None) == settings
    base = get_catalog().get(model_id)
    assert base is not None and model.price == base.price


@pytest.mark.parametrize("name", [
    "Gemini 1.5 Pro (May 2024)", "Gemini 1.5 Pro (April 2024)", "gemini-1.5-pro-preview-0409",
    "Gemini-1.5-Pro-Exp-0801", "Gemini-1.5-Pro-Exp-0827", "gemini-1.5-pro-preview-0514",
    "Gemini-2.0-Flash-Thinking-Exp-1219", "Qwen-Max-0428", "Qwen-Max-0919",
])
def test_a_dated_snapshot_never_maps_to_a_moving_alias(name: str) -> None:
    catalog = get_catalog()
    assert catalog.resolve_name(name) is None
    assert catalog.unmapped_reason(name) != "no catalog entry for this name"


def test_the_listed_llama_405b_is_in_the_price_data() -> None:
    assert "fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct" in json.loads(LITELLM.read_text())


def test_lifecycle_comes_from_the_price_tables() -> None:
    litellm = json.loads(LITELLM.read_text())
    catalog = get_catalog()
    gemini = catalog.get("google/gemini-3-pro-preview")
    assert gemini is not None and gemini.deprecation_date == litellm["gemini/gemini-3-pro-preview"]["deprecation_date"]
    assert gemini.lifecycle_reason("2026-03-08") is None
    assert "deprecated on 2026-03-09" in (gemini.lifecycle_reason("2026-11-23") or "")
    # Gone from LiteLLM's 2026-04 table although models.dev still prices it.
    assert "claude-3-5-sonnet-20240620" not in litellm
    sonnet = catalog.get("anthropic/claude-3-5-sonnet-20240620")
    assert sonnet is not None and sonnet.lifecycle_reason("2026-04-04") is not None


def test_every_token_class_is_priced_from_the_tables() -> None:
    litellm = json.loads(LITELLM.read_text())
    modelsdev = json.loads((FIXTURES / "pricing" / "modelsdev_api_2026-04-04.json").read_text())
    gemini = get_catalog().get("google/gemini-2.5-pro")
    raw = litellm["gemini/gemini-2.5-pro"]
    assert gemini is not None and gemini.price is not None and gemini.price.long_context is not None
    assert gemini.price.long_context.above_tokens == 200_000
    assert gemini.price.long_context.input == pytest.approx(raw["input_cost_per_token_above_200k_tokens"] * 1e6)
    assert gemini.price.long_context.output == pytest.approx(raw["output_cost_per_token_above_200k_tokens"] * 1e6)
    opus = get_catalog().get("anthropic/claude-opus-4-5-20251101")
    cost = modelsdev["anthropic"]["models"]["claude-opus-4-5-20251101"]["cost"]
    assert opus is not None and opus.price is not None
    assert (opus.price.cached_input, opus.price.cache_write) == (cost["cache_read"], cost["cache_write"])


@pytest.mark.parametrize("name", ["qwen3-max-preview", "QwQ-32B-Preview"])
def test_a_ranked_preview_never_maps_to_the_moving_alias_that_replaced_it(name: str) -> None:
    # qwen3-max and qwq-32b serve the released models now, not the previews the leaderboards ranked
    catalog = get_catalog()
    assert catalog.map_entry({"name": name}) is None
    assert "another version" in catalog.unmapped_reason(name)
