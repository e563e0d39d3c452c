"""The catalog is reproducible from the real data, priced from it, and maps every leader or says why not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from mixcore.catalog import get_catalog
from mixcore.catalog.build import Overrides, build_catalog, candidate_keys, leaderboard_names
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


def test_variant_names_reduce_to_api_ids() -> None:
    assert "o1" in candidate_keys("o1-2024-12-17 (temperature=1, reasoning=high)")
    assert "claude-opus-4-5-20251101" in candidate_keys("claude-opus-4-5-20251101-thinking-32k")
    assert "claude-3-5-haiku-20241022" in candidate_keys("Claude-3.5-Haiku-20241022")
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
    assert catalog.resolve_name(  # type: ignore[union-attr]
        "claude-opus-4-5-20251101-thinking-32k").id == "anthropic/claude-opus-4-5-20251101"
    assert catalog.resolve_name("grok-4.1") is None
