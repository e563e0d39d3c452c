"""Builds catalog.json reproducibly from the real price tables plus the hand-kept overrides file.

Sources (see tests/fixtures/pricing/README.md): models.dev `api.json` (provider model ids,
prices per 1M tokens, limits, modalities) for the first-party providers, OpenRouter's
`/api/v1/models` for OpenRouter ids, LiteLLM's price map to fill prices models.dev lacks, and
the LMArena `scatterplot-data.json` plus leaderboard files for the names leaderboards publish.
Run: `mixcore catalog build --fixtures tests/fixtures`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from mixcore.catalog import normalise_name
from mixcore.catalog.models import CatalogFile, CatalogModel, Modalities, Price, UnmappedName

# models.dev provider id → Mixcore provider name (providers.json), in order of preference when a
# leaderboard name could map to several: the model's own maker first, aggregators last.
MODELSDEV_PROVIDERS = {
    "openai": "openai", "anthropic": "anthropic", "google": "google", "xai": "xai", "deepseek": "deepseek",
    "mistral": "mistral", "alibaba": "alibaba", "moonshotai": "moonshot", "zai": "zai",
    "togetherai": "together", "fireworks-ai": "fireworks", "groq": "groq",
}
PROVIDER_PREFERENCE = [*MODELSDEV_PROVIDERS.values(), "openrouter"]
# LiteLLM key prefixes for the same providers (first-party keys have no prefix for OpenAI/Anthropic).
LITELLM_PREFIX = {"openai": "", "anthropic": "", "google": "gemini/", "xai": "xai/", "deepseek": "deepseek/",
                  "mistral": "mistral/", "together": "together_ai/", "groq": "groq/",
                  "fireworks": "fireworks_ai/accounts/fireworks/models/", "moonshot": "moonshot/"}
NOT_CHAT = re.compile(r"embed|tts|whisper|transcribe|dall-e|image|moderation|audio|realtime|rerank|live-", re.I)
# Variant suffixes leaderboards add to one API model (reasoning budgets, style tags, dates in another form).
VARIANT_SUFFIXES = re.compile(r"(-thinking(-\d+k)?|-high|-low|-medium|-minimal|-no-thinking|-reasoning|"
                              r"-non-reasoning|-search|-fc|-chat|-latest|-preview|-exp)$")


class Overrides(BaseModel):
    aliases: dict[str, str] = Field(default_factory=dict, description="leaderboard name → catalog id")
    unmapped: dict[str, str] = Field(default_factory=dict, description="leaderboard name → why not callable")
    exclude: list[str] = Field(default_factory=list, description="catalog ids to leave out")


def _per_million(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def models_from_modelsdev(data: dict[str, Any]) -> list[CatalogModel]:
    models: list[CatalogModel] = []
    for source_id, provider in MODELSDEV_PROVIDERS.items():
        for api_model, raw in sorted((data.get(source_id) or {}).get("models", {}).items()):
            modalities = raw.get("modalities") or {}
            if NOT_CHAT.search(api_model) or "text" not in (modalities.get("output") or ["text"]):
                continue
            cost = raw.get("cost") or {}
            price = None
            if _per_million(cost.get("input")) is not None and _per_million(cost.get("output")) is not None:
                price = Price(input=float(cost["input"]), output=float(cost["output"]),
                              cached_input=_per_million(cost.get("cache_read")))
            limit = raw.get("limit") or {}
            models.append(CatalogModel(
                id=f"{provider}/{api_model}", provider=provider, api_model=api_model, name=raw.get("name", ""),
                price=price, price_source="models.dev" if price else "",
                context_window=limit.get("context") or None, max_output_tokens=limit.get("output") or None,
                modalities=Modalities(input=modalities.get("input") or ["text"],
                                      output=modalities.get("output") or ["text"]),
                reasoning=bool(raw.get("reasoning")), open_weights=bool(raw.get("open_weights")),
                release_date=raw.get("release_date")))
    return models


def models_from_openrouter(data: dict[str, Any]) -> list[CatalogModel]:
    models: list[CatalogModel] = []
    for raw in data.get("data", []):
        api_model = raw["id"]
        architecture = raw.get("architecture") or {}
        if NOT_CHAT.search(api_model) and "text" not in (architecture.get("output_modalities") or []):
            continue
        pricing = raw.get("pricing") or {}
        prompt, completion = _per_million(pricing.get("prompt")), _per_million(pricing.get("completion"))
        cached = _per_million(pricing.get("input_cache_read"))
        price = None
        if prompt is not None and completion is not None:
            price = Price(input=round(prompt * 1e6, 6), output=round(completion * 1e6, 6),
                          cached_input=round(cached * 1e6, 6) if cached is not None else None)
        top = raw.get("top_provider") or {}
        models.append(CatalogModel(
            id=f"openrouter/{api_model}", provider="openrouter", api_model=api_model, name=raw.get("name", ""),
            price=price, price_source="openrouter" if price else "",
            context_window=raw.get("context_length") or None, max_output_tokens=top.get("max_completion_tokens"),
            modalities=Modalities(input=architecture.get("input_modalities") or ["text"],
                                  output=architecture.get("output_modalities") or ["text"])))
    return models


def fill_prices_from_litellm(models: Iterable[CatalogModel], litellm: dict[str, Any]) -> None:
    for model in models:
        if model.price is not None or model.provider not in LITELLM_PREFIX:
            continue
        raw = litellm.get(LITELLM_PREFIX[model.provider] + model.api_model) or {}
        inp, out = raw.get("input_cost_per_token"), raw.get("output_cost_per_token")
        if inp is None or out is None:
            continue
        cached = raw.get("cache_read_input_token_cost")
        model.price = Price(input=round(float(inp) * 1e6, 6), output=round(float(out) * 1e6, 6),
                            cached_input=round(float(cached) * 1e6, 6) if cached is not None else None)
        model.price_source = "litellm"
        model.context_window = model.context_window or raw.get("max_input_tokens")


DATE_SUFFIX = re.compile(r"-(20\d\d-?[01]\d-?[0-3]\d|[01]\d[0-3]\d)$")


def candidate_keys(name: str) -> list[str]:
    """Normalised forms of a leaderboard name to try against catalog ids, most specific first.

    'o1-2024-12-17 (temperature=1, reasoning=high)' → o1-2024-12-17, o1; 'claude-opus-4-5-20251101-thinking-32k'
    → …, claude-opus-4-5-20251101, claude-opus-4-5; 'gemini-3-pro' → …, gemini-3-pro-preview.
    """
    base = re.sub(r"\s*\(.*?\)\s*", " ", name).strip() or name
    stems = [normalise_name(base.split("/")[-1])]
    changed = True
    while changed:
        changed = False
        for stem in list(stems):
            for pattern in (VARIANT_SUFFIXES, DATE_SUFFIX):
                shorter = pattern.sub("", stem)
                if shorter and shorter != stem and shorter not in stems:
                    stems.append(shorter)
                    changed = True
    keys: list[str] = []
    for stem in stems + [s + "-preview" for s in stems]:
        # 'claude-3.5-haiku' is 'claude-3-5-haiku' at Anthropic, and 'qwen2.5' is 'qwen-2.5' at OpenRouter.
        keys += [stem, stem.replace(".", "-"), re.sub(r"(\d)-(\d)", r"\1.\2", stem),
                 re.sub(r"([a-z])(\d)", r"\1-\2", stem, count=1)]
    return list(dict.fromkeys(keys))


def assign_aliases(models: list[CatalogModel], names: Iterable[str], overrides: Overrides,
                   display_keys: dict[str, list[str]]) -> list[UnmappedName]:
    """Attach every leaderboard name to one catalog model, or report it unmapped with the reason."""
    by_id = {m.id: m for m in models}
    index: dict[str, list[CatalogModel]] = {}
    for model in models:
        for form in {normalise_name(model.api_model), normalise_name(model.api_model.split("/")[-1])}:
            index.setdefault(form, []).append(model)
    rank = {p: i for i, p in enumerate(PROVIDER_PREFERENCE)}
    unmapped: list[UnmappedName] = []
    forced = {normalise_name(k): v for k, v in overrides.aliases.items()}
    refused = {normalise_name(k): v for k, v in overrides.unmapped.items()}
    for name in sorted(set(names)):
        if normalise_name(name) in refused:
            unmapped.append(UnmappedName(name=name, reason=refused[normalise_name(name)]))
            continue
        target = forced.get(normalise_name(name))
        # A display name is tried through the arena keys it stands for, after itself.
        for alias in [name, *display_keys.get(name, [])]:
            if target is not None:
                break
            target = forced.get(normalise_name(alias))
            for key in candidate_keys(alias) if target is None else []:
                matches = sorted(index.get(key, []), key=lambda m: rank.get(m.provider, 99))
                if matches:
                    target = matches[0].id
                    break
        if target and target in by_id:
            if name not in by_id[target].aliases:
                by_id[target].aliases.append(name)
        else:
            unmapped.append(UnmappedName(
                name=name, reason="not found on any configured provider's API (codename, retired or not offered)"))
    return unmapped


def build_catalog(pricing_dir: Path, leaderboard_names: Iterable[str], overrides: Overrides,
                  display_keys: dict[str, list[str]] | None = None) -> CatalogFile:
    modelsdev = json.loads((pricing_dir / "modelsdev_api_2026-04-04.json").read_text())
    openrouter = json.loads((pricing_dir / "openrouter_models_2026-04-04.json").read_text())
    litellm = json.loads((pricing_dir / "model_prices_and_context_window.json").read_text())
    models = [m for m in models_from_modelsdev(modelsdev) + models_from_openrouter(openrouter)
              if m.id not in overrides.exclude]
    fill_prices_from_litellm(models, litellm)
    for model in models:
        model.aliases = [model.api_model]
    unmapped = assign_aliases(models, leaderboard_names, overrides, display_keys or {})
    return CatalogFile(
        generated_from=["modelsdev_api_2026-04-04.json", "openrouter_models_2026-04-04.json",
                        "model_prices_and_context_window.json", "overrides.json"],
        models=sorted(models, key=lambda m: m.id), unmapped=unmapped)


def leaderboard_names(leaderboards_dir: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Every model name the saved leaderboards publish, and display name → arena keys from metadata files."""
    from mixcore.leaderboards.indexer import SOURCES, parse_documents
    from mixcore.leaderboards.models import Document

    names: set[str] = set()
    for source in SOURCES:
        folder = leaderboards_dir / source
        if not folder.is_dir():
            continue
        documents = [Document(origin=str(p), data=p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()
                     and not p.name.lower().startswith("readme")]
        rankings, _ = parse_documents(source, documents)
        for ranking in rankings:
            names.update(e.name for e in ranking.entries)
            names.update(e.key for e in ranking.entries if e.key)
    return sorted(names), display_name_keys(leaderboards_dir / "lmsys")


def display_name_keys(lmsys_dir: Path) -> dict[str, list[str]]:
    """LMArena display names ('GPT-4o') → arena keys ('chatgpt-4o-latest-20241120'), from the metadata files."""
    import csv

    mapping: dict[str, list[str]] = {}
    scatter = lmsys_dir / "arena-catalog_scatterplot-data.json"
    if scatter.exists():
        for row in json.loads(scatter.read_text()):
            mapping.setdefault(row["name"], []).append(row["model_api_name"])
    for table in sorted(lmsys_dir.glob("hfspace_leaderboard_table_*.csv")):
        with table.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("key") and row.get("Model"):
                    mapping.setdefault(row["Model"], []).append(row["key"])
    return mapping


def write_catalog(fixtures: Path, out: Path | None = None) -> dict[str, Any]:
    package_data = Path(__file__).parent / "data"
    overrides = Overrides.model_validate_json((package_data / "overrides.json").read_text())
    names, display_keys = leaderboard_names(fixtures / "leaderboards")
    catalog = build_catalog(fixtures / "pricing", names, overrides, display_keys)
    target = out or package_data / "catalog.json"
    target.write_text(catalog.model_dump_json(indent=1) + "\n")
    return {"path": str(target), "models": len(catalog.models),
            "without_price": sum(1 for m in catalog.models if m.price is None),
            "aliased_names": sum(len(m.aliases) - 1 for m in catalog.models), "unmapped": len(catalog.unmapped)}
