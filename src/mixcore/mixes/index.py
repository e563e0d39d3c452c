"""Index mixes: the stored ranking → catalog mapping → constraints → callable providers → candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mixcore.catalog.models import CatalogModel
from mixcore.mixes.definitions import Constraints, IndexMix
from mixcore.mixes.upstream import Candidate, Upstream
from mixcore.schemas import MixOverrides

MAX_SKIPS_REPORTED = 25


BEFORE = "before_candidate"  # a skip's place: how many candidates were ahead of it in the ranking


def passed_over(skipped: list[dict[str, Any]], answered: int | None) -> list[dict[str, Any]]:
    """The skips ranked ahead of the candidate at index `answered` (every skip when None), without their place."""
    return [{k: v for k, v in s.items() if k != BEFORE} for s in skipped
            if answered is None or s.get(BEFORE, 0) <= answered]


@dataclass
class Resolution:
    mix: IndexMix
    ranking: dict[str, Any]
    candidates: list[Candidate] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def ranking_info(self) -> dict[str, Any]:
        return {key: self.ranking.get(key) for key in ("source", "category", "fetched_at", "data_date",
                                                       "content_hash", "metric")}


def effective_constraints(mix: IndexMix, overrides: MixOverrides | None) -> tuple[int, Constraints]:
    top_n = (overrides.top_n or mix.top_n) if overrides is not None else mix.top_n
    return top_n, constrained(mix.constraints, overrides)


def constrained(base: Constraints, overrides: MixOverrides | None) -> Constraints:
    """A mix's constraints with a request's `mix` settings applied."""
    constraints = base.model_copy()
    if overrides is not None:
        if overrides.max_price is not None:
            constraints.max_price = overrides.max_price
        if overrides.min_context is not None:
            constraints.min_context = overrides.min_context
        if overrides.modalities:
            constraints.modalities = sorted(set(constraints.modalities) | set(overrides.modalities))
        if overrides.allow_providers is not None:
            constraints.allow_providers = overrides.allow_providers
        if overrides.deny_providers:
            constraints.deny_providers = sorted(set(constraints.deny_providers) | set(overrides.deny_providers))
    return constraints


def violation(model: CatalogModel, constraints: Constraints) -> str | None:
    """Why a model breaks the mix's constraints, or None."""
    if constraints.allow_providers is not None and model.provider not in constraints.allow_providers:
        return f"provider {model.provider} not allowed"
    if model.provider in constraints.deny_providers:
        return f"provider {model.provider} denied"
    if constraints.max_price is not None:
        if model.price is None:
            return "price unknown (max_price set)"
        if model.price.output > constraints.max_price:
            return f"output price ${model.price.output}/1M above max_price ${constraints.max_price}/1M"
    if constraints.max_input_price is not None and (model.price is None
                                                    or model.price.input > constraints.max_input_price):
        return "input price above max_input_price"
    if constraints.min_context is not None and (model.context_window or 0) < constraints.min_context:
        return f"context window {model.context_window} below {constraints.min_context}"
    missing = [m for m in constraints.modalities if m not in model.modalities.input]
    if missing:
        return f"no {', '.join(missing)} input"
    return None


def resolve_index(mix: IndexMix, ranking: dict[str, Any], upstream: Upstream,
                  overrides: MixOverrides | None = None) -> Resolution:
    top_n, constraints = effective_constraints(mix, overrides)
    catalog, providers, cooldowns = upstream.catalog, upstream.providers, upstream.cooldowns
    resolution = Resolution(mix=mix, ranking=ranking)
    seen: dict[str, int] = {}
    denied = {name.lower() for name in mix.deny}
    today = datetime.now(UTC).date().isoformat()

    def skip(entry: dict[str, Any], reason: str, model_id: str | None = None) -> None:
        if len(resolution.skipped) < MAX_SKIPS_REPORTED:
            resolution.skipped.append({"rank": entry["rank"], "name": entry["name"], "model": model_id,
                                       "reason": reason, BEFORE: len(resolution.candidates)})

    for pinned in mix.pin:  # the operator's choice answers first; the ranking's candidates follow
        model = catalog.models.get(pinned)
        if model is None or model.provider not in providers or not providers[model.provider].configured:
            resolution.skipped.append({"rank": None, "name": None, "model": pinned,
                                       "reason": "pinned, but not in the catalog or its provider is not configured"})
            continue
        seen[pinned] = 0
        resolution.candidates.append(Candidate.of(model, name="pinned by the mix definition"))
        resolution.details.append({"rank": None, "name": "pinned by the mix definition", "model": pinned,
                                   "price": model.price.model_dump() if model.price else None,
                                   "context_window": model.context_window, "available": True})
    for entry in ranking.get("entries", []):
        if len(resolution.candidates) >= top_n:
            break
        if entry["name"].lower() in denied:
            skip(entry, "denied by the mix definition")
            continue
        model_id = catalog.map_entry(entry)
        if model_id is not None and model_id.lower() in denied:
            skip(entry, "denied by the mix definition", model_id)
            continue
        if model_id is None:
            skip(entry, "unmapped: " + catalog.unmapped_reason(entry.get("key") or entry["name"]))
            continue
        if model_id in seen:
            skip(entry, f"same model as rank {seen[model_id]}" if seen[model_id] else "pinned above", model_id)
            continue
        seen[model_id] = entry["rank"]
        model = catalog.models[model_id]
        reason = model.lifecycle_reason(today) or violation(model, constraints)
        if reason is not None:
            skip(entry, reason, model_id)
            continue
        provider = providers.get(model.provider)
        if provider is None or not provider.configured:
            skip(entry, f"provider {model.provider} not configured", model_id)
            continue
        cooling = cooldowns.cooling(model.provider, model_id)
        if cooling > 0:
            skip(entry, f"{model_id} set aside for {cooling:.0f}s more: {cooldowns.reason(model_id)}", model_id)
            continue
        resolution.candidates.append(Candidate.of(model, rank=entry["rank"], score=entry.get("score"),
                                                  name=entry["name"]))
        resolution.details.append({"rank": entry["rank"], "name": entry["name"], "score": entry.get("score"),
                                   "model": model_id, "price": model.price.model_dump() if model.price else None,
                                   "context_window": model.context_window, "available": True})
    return resolution
