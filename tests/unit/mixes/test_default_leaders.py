"""Every default index mix answers with the true #1 of its leaderboard, at the version and with the settings it
was ranked with, or says why it passed it over.

The oracle here does not use the code under test: each ranking is read from the leaderboard file itself
(LMArena's ratings with its upper-bound rank, BigCodeBench's pass@1, SEAL's own rank badges), each name's
model is written out below and checked against the price tables, and a model's lifecycle comes from LiteLLM's
table (deprecation_date, or a first-party model missing from it). The gateway runs on the packaged snapshot,
as a fresh stack does, against loopback providers that record what they were sent.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup

from mixcore.catalog import get_catalog
from mixcore.catalog.refresh import map_top
from mixcore.leaderboards.snapshot import packaged_rankings
from mixcore.local.demo_providers import DemoProviderServer
from mixcore.mixes.definitions import IndexMix, default_index_categories, default_mixes
from mixcore.mixes.gateway import Gateway
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES, request_context, use_store

pytestmark = pytest.mark.anyio
BOARDS = FIXTURES / "leaderboards"
PRICING = FIXTURES / "pricing"
LITELLM = json.loads((PRICING / "model_prices_and_context_window.json").read_text())
MODELSDEV = json.loads((PRICING / "modelsdev_api_2026-04-04.json").read_text())
OPENROUTER = {m["id"] for m in json.loads((PRICING / "openrouter_models_2026-04-04.json").read_text())["data"]}
ARENA_CATEGORY = {"overall": "full", "vision": "full", "hard-prompts": "hard_6", "instruction-following": "if",
                  "longer-query": "long_user", "multi-turn": "multiturn", "creative-writing": "creative_writing"}
TODAY = datetime.now(UTC).date().isoformat()

# What each name at the top of a default category ranked, read off the price tables by hand: the catalog id
# and settings, or None when no configured provider serves that model (with why).
RANKED_MODEL: dict[str, tuple[str, dict[str, Any] | None] | None] = {
    "gemini-3-pro": ("google/gemini-3-pro-preview", None),  # models.dev's only Gemini 3 Pro id
    "gemini-3-flash": ("google/gemini-3-flash-preview", None),
    "claude-opus-4-5-20251101-thinking-32k": ("anthropic/claude-opus-4-5-20251101", {"budget_tokens": 32768}),
    "claude-opus-4-5-20251101": ("anthropic/claude-opus-4-5-20251101", None),
    "claude-sonnet-4-5-20250929-thinking-32k": ("anthropic/claude-sonnet-4-5-20250929", {"budget_tokens": 32768}),
    "claude-sonnet-4-5-20250929": ("anthropic/claude-sonnet-4-5-20250929", None),
    "gemini-2.5-pro": ("google/gemini-2.5-pro", None),
    "gpt-5.1": ("openai/gpt-5.1", None),
    "gpt-5.1-high": ("openai/gpt-5.1", {"effort": "high"}),
    "grok-4.1": None,  # the arena's Grok 4.1 is not on xAI's API
    "grok-4.1-thinking": None,
    "gpt-4.5-preview-2025-02-27": None,  # retired from OpenAI's API, absent from every price table's ids
    "chatgpt-4o-latest-20250326": None,  # a ChatGPT snapshot; the API alias serves another version
    # SEAL names its models by these API ids in each row's tooltip.
    "claude-3-5-sonnet-20240620": ("anthropic/claude-3-5-sonnet-20240620", None),
    "gpt-4-0125-preview": None,  # retired GPT-4 Turbo preview
    "gpt-4o-2024-05-13": ("openai/gpt-4o-2024-05-13", None),
    "llama-3.1-405b-instruct": ("fireworks/accounts/fireworks/models/llama-v3p1-405b-instruct", None),
    "gemini-1.5-pro-preview-0514": None,  # only the moving gemini-1.5-pro exists, and it is retired too
    "gemini-1.5-pro-preview-0409": None,
    "claude-3-opus-20240229": ("anthropic/claude-3-opus-20240229", None),
    # BigCodeBench
    "Gemini-Exp-1206": None,  # an AI Studio codename of a few weeks
    "DeepSeek-V3": ("openrouter/deepseek/deepseek-chat", None),  # the 2024-12 model; DeepSeek's own alias moved
    "DeepSeek-R1": ("openrouter/deepseek/deepseek-r1", None),
    "GPT-4o-2024-05-13": ("openai/gpt-4o-2024-05-13", None),
    "o3-mini-2025-01-31 (temperature=1, reasoning=medium)": ("openai/o3-mini-2025-01-31", {"effort": "medium"}),
}
API_ID_IN = {"google": lambda m: f"gemini/{m}" in LITELLM or m in MODELSDEV["google"]["models"],
             "anthropic": lambda m: m in LITELLM or m in MODELSDEV["anthropic"]["models"],
             "openai": lambda m: m in LITELLM or m in MODELSDEV["openai"]["models"],
             "fireworks": lambda m: f"fireworks_ai/{m}" in LITELLM,
             "openrouter": lambda m: m in OPENROUTER}


def arena_order(board: str, category: str) -> list[str]:
    """LMArena's order: by rank (1 + the models whose lower bound beats this one's upper bound), then rating."""
    path = next((BOARDS / "lmsys").glob(f"arena-catalog_leaderboard-{board}-style-control_*.json"))
    rows = json.loads(path.read_text())
    table = rows[ARENA_CATEGORY.get(category, category)]
    def rank(name: str) -> int:
        return 1 + sum(1 for other in table.values() if other["rating_q025"] > table[name]["rating_q975"])
    return sorted(table, key=lambda name: (rank(name), -table[name]["rating"]))


def bigcodebench_order(category: str) -> list[str]:
    hard = category.startswith("hard-")
    data = json.loads((BOARDS / "bigcodebench" / ("results-hard.json" if hard else "results.json")).read_text())
    split = category.removeprefix("hard-")
    scored = [(name, row["pass@1"][split]) for name, row in data.items() if row["pass@1"].get(split) is not None]
    return [name for name, _ in sorted(scored, key=lambda item: -item[1])]  # stable: ties keep the file's order


def seal_order(category: str) -> list[str]:
    soup = BeautifulSoup((BOARDS / "seal" / "scale_leaderboard_2024-08-07.html").read_text(), "lxml")
    for block in soup.select("div.flex.flex-col.gap-4"):
        table, title = block.find("table"), block.find("span")
        if table is None or title is None or title.get_text(strip=True).lower().replace(" ", "-") != category:
            continue
        rows = []
        for row in table.find_all("tr"):
            cells, link = row.find_all("td"), row.find("a")
            if cells and link is not None:
                badge = int(re.match(r"\d+", cells[0].get_text(strip=True)).group())  # type: ignore[union-attr]
                rows.append((badge, str(link.get("data-tooltip-content")).split(" ")[0]))
        return [key for _, key in sorted(rows)]  # the page's own rank badges: fewest violations first, etc.
    raise AssertionError(f"no SEAL table for {category}")


def order_of(mix: IndexMix) -> list[str]:
    if mix.source == "lmsys":
        return arena_order("vision" if mix.category == "vision" else "text", mix.category)
    return bigcodebench_order(mix.category) if mix.source == "bigcodebench" else seal_order(mix.category)


def passed_over(model_id: str, mix: IndexMix) -> str | None:
    """Why the mix must not answer with this model, from the price tables (None: it is the one)."""
    provider, api_model = model_id.split("/", 1)
    assert API_ID_IN[provider](api_model), f"{model_id} is not in the price data"
    litellm = LITELLM.get(api_model if provider in ("openai", "anthropic") else f"gemini/{api_model}", {})
    if provider == "google" and litellm.get("deprecation_date", "9999") <= TODAY:
        return "retired"
    if provider == "anthropic" and api_model not in LITELLM:
        return "retired"  # still in models.dev, gone from LiteLLM's 2026-04 table
    listed = MODELSDEV.get(provider, {}).get("models", {}).get(api_model)
    if mix.constraints.modalities and listed is not None:
        assert set(mix.constraints.modalities) <= set(listed["modalities"]["input"])
    if mix.constraints.min_context and listed is not None:
        assert listed["limit"]["context"] >= mix.constraints.min_context
    return None


def expected_leader(mix: IndexMix) -> tuple[str, dict[str, Any] | None, list[str]]:
    passed: list[str] = []
    for name in order_of(mix):
        assert name in RANKED_MODEL, f"{mix.id}: add {name!r} to RANKED_MODEL"
        ranked = RANKED_MODEL[name]
        if ranked is None or passed_over(ranked[0], mix) is not None:
            passed.append(name)
            continue
        return ranked[0], ranked[1], passed
    raise AssertionError(f"{mix.id}: nothing callable")


INDEX_MIXES = [m for m in default_mixes().values() if isinstance(m, IndexMix)]


@pytest.mark.parametrize("mix", INDEX_MIXES, ids=[m.id for m in INDEX_MIXES])
async def test_each_default_index_mix_answers_with_its_true_leader(mix: IndexMix, gateway: Gateway,
                                                                  demo: DemoProviderServer) -> None:
    model_id, settings, passed = expected_leader(mix)
    gateway.upstream.settings.cache_ttl_seconds = 0
    use_store(gateway, MemoryStore())  # a fresh stack: the packaged snapshot answers
    request = ChatCompletionRequest.model_validate({"model": mix.id, "max_tokens": 100,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    result = await gateway.complete(request, request_context(gateway))
    answered = result.body["model"]
    assert answered.split(":")[0] == model_id
    sent = demo.calls_for(model_id)[-1].body
    if settings is None:
        assert ":" not in answered and not {"thinking", "reasoning_effort", "extra_body"} & set(sent)
    elif "budget_tokens" in settings:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": settings["budget_tokens"]}
    else:
        assert sent["reasoning_effort"] == settings["effort"]
    # Every name ranked above it is in the mix's skipped list, with a reason, and nothing ranked below it.
    skipped = result.body["mix"].get("skipped", [])
    assert [s["name"] if mix.source != "seal" else None for s in skipped] == \
        [n if mix.source != "seal" else None for n in passed]
    assert all(s["reason"] for s in skipped)


def test_the_unmapped_leader_alarm_counts_every_category_whose_leader_cannot_be_called() -> None:
    # Given the oracle above: a category's #1 cannot be called when the mix must pass it over (no provider serves
    # it, or the price tables say it is retired or deprecated)
    expected = {f"{m.source}/{m.category}" for m in INDEX_MIXES if expected_leader(m)[2]}
    assert len(expected) >= 10  # most default categories are led by a model no API serves today
    # When the indexer maps every default category's top 10 through the packaged catalog
    rankings = list(packaged_rankings().values())
    unmapped, leaders = map_top(get_catalog(), rankings, default_index_categories(), TODAY)
    # Then exactly those categories count toward UnmappedLeaderRuns, each leader with its reason
    assert {category for category, unmappable in leaders.items() if unmappable} == expected
    leaders_named = {f"{u.source}/{u.category}" for u in unmapped if u.rank == 1 and u.reason and u.detail}
    assert expected <= leaders_named
    assert "retired" in {u.reason for u in unmapped if u.rank == 1}
