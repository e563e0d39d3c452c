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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from mixcore.catalog import normalise_name, packaged_overrides
from mixcore.catalog.models import (
    CatalogFile,
    CatalogModel,
    LongContextPrice,
    Modalities,
    Overrides,
    Price,
    ReasoningSettings,
    TableStamp,
    UnmappedName,
)
from mixcore.catalog.prices import (
    LITELLM,
    LITELLM_PREFIX,
    LITELLM_PROVIDERS,
    MILLION,
    MODELSDEV,
    MODELSDEV_PROVIDERS,
    OPENROUTER,
    PRICE_SOURCES,
    PriceTable,
    content_hash,
    model_count,
    non_negative,
    parse_table,
)

PROVIDER_PREFERENCE = [*MODELSDEV_PROVIDERS.values(), "openrouter"]
# DeepSeek's API serves only moving aliases (deepseek-chat, deepseek-reasoner): LiteLLM's other deepseek/ keys
# name no callable model, so they are not added.
LITELLM_ADDS = set(LITELLM_PROVIDERS.values()) - {"deepseek"}
# The model makers whose own APIs LiteLLM tracks closely: a model of theirs missing from its table has been retired.
FIRST_PARTY = {"openai", "anthropic", "google", "xai", "deepseek", "mistral"}
PRICE_DATA_DATE = "2026-04-04"  # the date of the three price tables in tests/fixtures/pricing
# Released this long before the price data and absent from LiteLLM's table: retired, not merely too new to list.
RETIRED_AFTER_DAYS = 180
NOT_CHAT = re.compile(r"embed|tts|whisper|transcribe|dall-e|image|moderation|audio|realtime|rerank|live-", re.I)
# Suffixes that name the same API model in another spelling (never another version or other settings).
NEUTRAL_SUFFIXES = re.compile(r"(-chat|-latest|-preview|-exp|-fc)$")
DATE_SUFFIX = re.compile(r"-(20\d\d-?[01]\d-?[0-3]\d|[01]\d[0-3]\d|[01]\d-20\d\d)$")
MONTH_SNAPSHOT = re.compile(r"^(january|february|march|april|may|june|july|august|september|october|november|"
                            r"december) 20\d\d$", re.I)
PROVIDERS_WITH_EFFORT = {"openai", "xai", "google", "openrouter"}
PROVIDERS_WITH_BUDGET = {"anthropic", "google", "openrouter"}


def _per_token(raw: dict[str, Any], key: str) -> float | None:
    """A LiteLLM per-token price as USD per 1M tokens."""
    value = non_negative(raw.get(key))
    return round(value * MILLION, 6) if value is not None else None


def price_from_modelsdev(cost: dict[str, Any]) -> Price | None:
    if non_negative(cost.get("input")) is None or non_negative(cost.get("output")) is None:
        return None
    over = cost.get("context_over_200k") or {}
    long_context = None
    if non_negative(over.get("input")) is not None and non_negative(over.get("output")) is not None:
        long_context = LongContextPrice(above_tokens=200_000, input=float(over["input"]), output=float(over["output"]),
                                        cached_input=non_negative(over.get("cache_read")),
                                        cache_write=non_negative(over.get("cache_write")))
    return Price(input=float(cost["input"]), output=float(cost["output"]),
                 cached_input=non_negative(cost.get("cache_read")), cache_write=non_negative(cost.get("cache_write")),
                 reasoning_output=non_negative(cost.get("reasoning")), long_context=long_context)


def price_from_litellm(raw: dict[str, Any]) -> Price | None:
    """Every token class of a LiteLLM entry; the lowest long-context threshold it names is the tier."""
    inp, out = _per_token(raw, "input_cost_per_token"), _per_token(raw, "output_cost_per_token")
    if inp is None or out is None:
        return None
    long_context = None
    for above in ("128k", "200k", "272k"):
        tier_in = _per_token(raw, f"input_cost_per_token_above_{above}_tokens")
        tier_out = _per_token(raw, f"output_cost_per_token_above_{above}_tokens")
        if tier_in is not None and tier_out is not None:
            long_context = LongContextPrice(
                above_tokens=int(above[:-1]) * 1000, input=tier_in, output=tier_out,
                cached_input=_per_token(raw, f"cache_read_input_token_cost_above_{above}_tokens"),
                cache_write=_per_token(raw, f"cache_creation_input_token_cost_above_{above}_tokens"))
            break
    return Price(input=inp, output=out, cached_input=_per_token(raw, "cache_read_input_token_cost"),
                 cache_write=_per_token(raw, "cache_creation_input_token_cost"),
                 reasoning_output=_per_token(raw, "output_cost_per_reasoning_token"), long_context=long_context)


def price_from_openrouter(pricing: dict[str, Any]) -> Price | None:
    if non_negative(pricing.get("prompt")) is None or non_negative(pricing.get("completion")) is None:
        return None
    return Price(input=_per_token(pricing, "prompt") or 0.0, output=_per_token(pricing, "completion") or 0.0,
                 cached_input=_per_token(pricing, "input_cache_read"),
                 cache_write=_per_token(pricing, "input_cache_write"),
                 reasoning_output=_per_token(pricing, "internal_reasoning") or None)


def models_from_modelsdev(data: dict[str, Any]) -> list[CatalogModel]:
    models: list[CatalogModel] = []
    for source_id, provider in MODELSDEV_PROVIDERS.items():
        for api_model, raw in sorted((data.get(source_id) or {}).get("models", {}).items()):
            modalities = raw.get("modalities") or {}
            if NOT_CHAT.search(api_model) or "text" not in (modalities.get("output") or ["text"]):
                continue
            price = price_from_modelsdev(raw.get("cost") or {})
            limit = raw.get("limit") or {}
            models.append(CatalogModel(
                id=f"{provider}/{api_model}", provider=provider, api_model=api_model, name=raw.get("name", ""),
                price=price, price_source="models.dev" if price else "",
                context_window=limit.get("context") or None, max_output_tokens=limit.get("output") or None,
                modalities=Modalities(input=modalities.get("input") or ["text"],
                                      output=modalities.get("output") or ["text"]),
                reasoning=bool(raw.get("reasoning")), open_weights=bool(raw.get("open_weights")),
                temperature=raw["temperature"] if isinstance(raw.get("temperature"), bool) else None,
                release_date=raw.get("release_date"),
                retired="models.dev marks it deprecated" if raw.get("status") == "deprecated" else None))
    return models


def models_from_openrouter(data: dict[str, Any]) -> list[CatalogModel]:
    models: list[CatalogModel] = []
    for raw in data.get("data", []):
        api_model = raw["id"]
        architecture = raw.get("architecture") or {}
        if NOT_CHAT.search(api_model) and "text" not in (architecture.get("output_modalities") or []):
            continue
        price = price_from_openrouter(raw.get("pricing") or {})
        top = raw.get("top_provider") or {}
        models.append(CatalogModel(
            id=f"openrouter/{api_model}", provider="openrouter", api_model=api_model, name=raw.get("name", ""),
            price=price, price_source="openrouter" if price else "",
            context_window=raw.get("context_length") or None, max_output_tokens=top.get("max_completion_tokens"),
            modalities=Modalities(input=architecture.get("input_modalities") or ["text"],
                                  output=architecture.get("output_modalities") or ["text"])))
    return models


def merge_litellm(models: list[CatalogModel], litellm: dict[str, Any], table_date: str = PRICE_DATA_DATE,
                  ) -> list[CatalogModel]:
    """Fill what models.dev lacks from LiteLLM (prices of every token class, deprecation dates, retirements),
    and add the providers' dated snapshots only LiteLLM lists (e.g. o1-2024-12-17), so a ranked snapshot is
    called by its own id rather than through a moving alias."""
    known = {(m.provider, m.api_model) for m in models}
    for model in models:
        if model.provider not in LITELLM_PREFIX:
            continue
        raw = litellm.get(LITELLM_PREFIX[model.provider] + model.api_model) or {}
        if not raw:
            if (model.provider in FIRST_PARTY and model.retired is None
                    and released_long_before(model.release_date, table_date)):
                model.retired = (f"released {model.release_date} and no longer in LiteLLM's price table of "
                                 f"{table_date}")
            continue
        model.deprecation_date = str(raw["deprecation_date"]) if raw.get("deprecation_date") else None
        listed = price_from_litellm(raw)
        if model.price is None:
            model.price, model.price_source = listed, "litellm" if listed else ""
        elif listed is not None:
            for name in ("cached_input", "cache_write", "reasoning_output", "long_context"):
                if getattr(model.price, name) is None:
                    setattr(model.price, name, getattr(listed, name))
        model.context_window = model.context_window or raw.get("max_input_tokens")
    added: list[CatalogModel] = []
    for key, raw in sorted(litellm.items()):
        provider = LITELLM_PROVIDERS.get(str(raw.get("litellm_provider"))) if isinstance(raw, dict) else None
        if provider not in LITELLM_ADDS or raw.get("mode") != "chat" or not key.startswith(LITELLM_PREFIX[provider]):
            continue
        api_model = key[len(LITELLM_PREFIX[provider]):]
        # Together's ids are org/model and Fireworks' accounts/fireworks/models/model; the others' have no '/'.
        nested = "/" in api_model and provider not in ("together", "fireworks")
        if not api_model or nested or (provider, api_model) in known:
            continue
        price = price_from_litellm(raw)
        known.add((provider, api_model))
        added.append(CatalogModel(
            id=f"{provider}/{api_model}", provider=provider, api_model=api_model, price=price,
            price_source="litellm" if price else "", context_window=raw.get("max_input_tokens"),
            max_output_tokens=int(raw["max_output_tokens"]) if raw.get("max_output_tokens") else None,
            modalities=Modalities(input=["text", "image"] if raw.get("supports_vision") else ["text"]),
            reasoning=bool(raw.get("supports_reasoning")),
            deprecation_date=str(raw["deprecation_date"]) if raw.get("deprecation_date") else None))
    return added


def released_long_before(release_date: str | None, table_date: str = PRICE_DATA_DATE) -> bool:
    if not release_date:
        return False
    try:
        released = date.fromisoformat(release_date[:10])
    except ValueError:
        return False
    return (date.fromisoformat(table_date[:10]) - released).days > RETIRED_AFTER_DAYS


@dataclass(frozen=True)
class RankedName:
    """What a leaderboard name says about the model it ranked: the API stem, the snapshot, the settings."""

    stem: str
    snapshot: str | None  # the date digits of a dated snapshot ('20240620', '0324'); 'month' when only a month
    settings: ReasoningSettings | None
    thinking_unspecified: bool = False  # '-thinking' with no budget, or '-no-thinking'
    preview: bool = False  # the leaderboard ranked a preview ('qwen3-max-preview', 'QwQ-32B-Preview')

    def same_version(self, model: CatalogModel) -> bool:
        """A dated snapshot is only ever the model whose id carries that date, and a preview only a preview id:
        never a moving alias that now serves another version."""
        if self.preview and "preview" not in model.api_model.lower():
            return False
        if self.snapshot is None:
            return True
        return self.snapshot != "month" and self.snapshot in re.sub(r"\D", "", model.api_model)


def parse_ranked_name(name: str) -> RankedName:
    """'o1-2024-12-17 (temperature=1, reasoning=high)' → o1-2024-12-17, snapshot 20241217, effort high;
    'claude-opus-4-5-20251101-thinking-32k' → claude-opus-4-5-20251101, budget 32768."""
    effort: str | None = None
    budget: int | None = None
    snapshot: str | None = None
    unspecified = False
    for note in re.findall(r"\(([^)]*)\)", name):
        for part in (p.strip() for p in note.split(",")):
            key, _, value = part.partition("=")
            if key.strip() == "reasoning" and value.strip().isdigit():
                budget = int(value)
            elif key.strip() == "reasoning" and value.strip() in ("minimal", "low", "medium", "high"):
                effort = value.strip()
            elif re.fullmatch(r"thinking-(\d+)k", part):
                budget = int(part.split("-")[1][:-1]) * 1024
            elif re.fullmatch(r"20\d\d-?\d\d-?\d\d|\d\d-20\d\d", part):
                snapshot = re.sub(r"\D", "", part)
            elif MONTH_SNAPSHOT.match(part):
                snapshot = "month"
    stem = normalise_name(re.sub(r"\s*\(.*?\)\s*", " ", name).strip() or name).split("/")[-1]
    if match := re.search(r"-thinking-(\d+)k$", stem):
        budget, stem = int(match.group(1)) * 1024, stem[:match.start()]
    elif match := re.search(r"-(no-thinking|thinking)$", stem):
        unspecified, stem = True, stem[:match.start()]
    elif match := re.search(r"-(minimal|low|medium|high)$", stem):
        effort, stem = match.group(1), stem[:match.start()]
    if snapshot is None and (match := DATE_SUFFIX.search(stem)):
        snapshot = re.sub(r"\D", "", match.group(1))
    settings = ReasoningSettings.model_validate({"effort": effort, "budget_tokens": budget}) \
        if effort or budget else None
    return RankedName(stem=stem, snapshot=snapshot, settings=settings, thinking_unspecified=unspecified,
                      preview="preview" in name.lower())


def candidate_keys(stem: str) -> list[str]:
    """Spellings of a name's stem to try against catalog ids, most specific first ('gemini-3-pro' → …,
    gemini-3-pro-preview; 'claude-3.5-haiku' → claude-3-5-haiku). Dates are dropped to find the family;
    `RankedName.same_version` then refuses any match that is not the ranked snapshot."""
    stems = [stem]
    changed = True
    while changed:
        changed = False
        for current in list(stems):
            for pattern in (NEUTRAL_SUFFIXES, DATE_SUFFIX):
                shorter = pattern.sub("", current)
                if shorter and shorter != current and shorter not in stems:
                    stems.append(shorter)
                    changed = True
    keys: list[str] = []
    for current in stems + [s + "-preview" for s in stems]:
        # 'claude-3.5-haiku' is 'claude-3-5-haiku' at Anthropic, and 'qwen2.5' is 'qwen-2.5' at OpenRouter.
        keys += [current, current.replace(".", "-"), re.sub(r"(\d)-(\d)", r"\1.\2", current),
                 re.sub(r"([a-z])(\d)", r"\1-\2", current, count=1)]
    return list(dict.fromkeys(keys))


def reasoning_variant(model: CatalogModel, settings: ReasoningSettings, name: str) -> CatalogModel | str:
    """The catalog entry that calls `model` with the ranked settings, or why Mixcore cannot send them."""
    if settings.budget_tokens is not None and model.provider not in PROVIDERS_WITH_BUDGET:
        return (f"ranked with a {settings.budget_tokens}-token thinking budget, which {model.provider}'s API has "
                "no field for")
    if settings.effort is not None and model.provider not in PROVIDERS_WITH_EFFORT:
        return f"ranked with reasoning effort {settings.effort}, which {model.provider}'s API has no field for"
    variant = model.model_copy(deep=True)
    variant.id, variant.base_id, variant.settings, variant.aliases = (f"{model.id}:{settings.label()}", model.id,
                                                                       settings, [])
    variant.name = f"{model.name or model.api_model} ({settings.label()})"
    return variant


def assign_aliases(models: list[CatalogModel], names: Iterable[str], overrides: Overrides,
                   display_keys: dict[str, list[str]]) -> list[UnmappedName]:
    """Attach every leaderboard name to the one catalog model it ranked (a reasoning variant gets an entry of
    its own, with its settings), or report it unmapped with the reason."""
    by_id = {m.id: m for m in models}
    index: dict[str, list[CatalogModel]] = {}
    for model in models:
        for form in {normalise_name(model.api_model), normalise_name(model.api_model.split("/")[-1])}:
            index.setdefault(form, []).append(model)
    rank = {p: i for i, p in enumerate(PROVIDER_PREFERENCE)}
    unmapped: list[UnmappedName] = []
    forced = {normalise_name(k): v for k, v in overrides.aliases.items()}
    refused = {normalise_name(k): v for k, v in overrides.unmapped.items()}

    def lookup(alias: str) -> tuple[CatalogModel | None, RankedName, str | None]:
        exact = sorted(index.get(normalise_name(alias).split("/")[-1], []), key=lambda m: rank.get(m.provider, 99))
        ranked = parse_ranked_name(alias)
        if exact and "(" not in alias:  # the provider's own id for this very name ('o3-mini-high', '…-thinking')
            return exact[0], RankedName(stem=ranked.stem, snapshot=None, settings=None), None
        why = None
        for key in candidate_keys(ranked.stem):
            for model in sorted(index.get(key, []), key=lambda m: rank.get(m.provider, 99)):
                if ranked.same_version(model):
                    return model, ranked, None
                why = (f"the ranked snapshot is not offered by any configured provider ({model.id} serves another "
                       "version)")
        return None, ranked, why

    for name in sorted(set(names)):
        if normalise_name(name) in refused:
            unmapped.append(UnmappedName(name=name, reason=refused[normalise_name(name)]))
            continue
        target: CatalogModel | None = None
        ranked = named = parse_ranked_name(name)
        why: str | None = None
        # Arena keys are the API-style ids the arena ran; a display name is tried through them first.
        for alias in [*display_keys.get(name, []), name]:
            forced_id = forced.get(normalise_name(alias))
            if forced_id is not None:
                if forced_id not in by_id:
                    raise ValueError(f"overrides.json maps {alias!r} to {forced_id!r}, which is not in the catalog")
                target, ranked = by_id[forced_id], RankedName(stem=alias, snapshot=None, settings=None)
                break
            target, ranked, why = lookup(alias)
            if target is not None and not named.same_version(target):  # 'ChatGPT-4o-latest (2024-08-08)'
                why = f"the ranked snapshot is not offered by any configured provider ({target.id} serves another " \
                      "version)"
                target = None
            if target is not None:
                break
        if target is not None and ranked.thinking_unspecified:
            target, why = None, "ranked with thinking switched on or off at an unpublished budget"
        if target is not None and ranked.settings is not None:
            variant = reasoning_variant(target, ranked.settings, name)
            if isinstance(variant, str):
                target, why = None, variant
            else:
                target = by_id.setdefault(variant.id, variant)
                if target is variant:
                    models.append(variant)
        if target is None:
            unmapped.append(UnmappedName(name=name, reason=why or "not found on any configured provider's API "
                                                                   "(codename, retired or not offered)"))
        elif name not in target.aliases:
            target.aliases.append(name)
    return unmapped


FIXTURE_TABLES = {MODELSDEV: "modelsdev_api_2026-04-04.json", OPENROUTER: "openrouter_models_2026-04-04.json",
                  LITELLM: "model_prices_and_context_window.json"}


def build_from_tables(tables: Mapping[str, PriceTable], leaderboard_names: Iterable[str], overrides: Overrides,
                      display_keys: dict[str, list[str]] | None = None, *, built_on: str) -> CatalogFile:
    """The catalog the price tables make, with every leaderboard name attached or reported unmapped.

    A missing table contributes nothing (the caller falls back to the previous catalog for what it held);
    without LiteLLM's no model is judged retired for being absent from it."""
    empty: dict[str, Any] = {}
    models = models_from_modelsdev(tables[MODELSDEV].data if MODELSDEV in tables else empty)
    models += models_from_openrouter(tables[OPENROUTER].data if OPENROUTER in tables else empty)
    if LITELLM in tables:
        models += merge_litellm(models, tables[LITELLM].data, (tables[LITELLM].fetched_at or built_on)[:10])
    models = [m for m in models if m.id not in overrides.exclude]
    for model in models:
        model.aliases = [model.api_model]
    unmapped = assign_aliases(models, leaderboard_names, overrides, display_keys or {})
    catalog = CatalogFile(
        generated_from=[*(tables[s].origin.rsplit("/", 1)[-1] for s in PRICE_SOURCES if s in tables), "overrides.json"],
        tables={s: TableStamp(origin=t.origin, models=model_count(t), content_hash=content_hash(t.relevant()),
                              fetched_at=t.fetched_at) for s, t in tables.items()},
        models=sorted(models, key=lambda m: m.id), unmapped=unmapped)
    catalog.version = catalog_version(catalog, built_on)
    return catalog


def catalog_version(catalog: CatalogFile, built_on: str) -> str:
    """<build time, digits>-<hash of what the catalog says>: sortable, and the same data keeps its hash."""
    said = [m.model_dump(mode="json") for m in catalog.models], [u.model_dump() for u in catalog.unmapped]
    return f"{re.sub(r'[^0-9T]', '', built_on)[:15]}-{content_hash(said)[:10]}"


def build_catalog(pricing_dir: Path, leaderboard_names: Iterable[str], overrides: Overrides,
                  display_keys: dict[str, list[str]] | None = None) -> CatalogFile:
    """The packaged catalog: built from the fixture price tables, versioned by their date."""
    tables = {source: parse_table((pricing_dir / name).read_bytes(), name) for source, name in FIXTURE_TABLES.items()}
    return build_from_tables(tables, leaderboard_names, overrides, display_keys, built_on=PRICE_DATA_DATE)


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
    overrides = packaged_overrides()
    names, display_keys = leaderboard_names(fixtures / "leaderboards")
    catalog = build_catalog(fixtures / "pricing", names, overrides, display_keys)
    target = out or package_data / "catalog.json"
    target.write_text(catalog.model_dump_json(indent=1) + "\n")
    return {"path": str(target), "models": len(catalog.models),
            "without_price": sum(1 for m in catalog.models if m.price is None),
            "aliased_names": sum(len(m.aliases) - 1 for m in catalog.models), "unmapped": len(catalog.unmapped)}
