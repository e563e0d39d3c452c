"""Mix lookup for a warm container: definitions (package defaults + the store) and rankings, TTL-cached.

The registry is also the gateway's planner: it turns a request's `model` into a Plan, for mixes
and direct `provider/model` ids alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from mixcore.errors import InvalidRequest, MixUnavailable, ModelNotFound
from mixcore.leaderboards.snapshot import latest_ranking
from mixcore.mixes.composite import composite_plan
from mixcore.mixes.definitions import (
    AutoIndexMix,
    Constraints,
    IndexMix,
    MixDefinition,
    RouteMix,
    default_mixes,
    parse_mix,
)
from mixcore.mixes.index import Resolution, constrained, passed_over, resolve_index, violation
from mixcore.mixes.plans import Plan
from mixcore.mixes.route import check_route_request, route_plan
from mixcore.mixes.upstream import Candidate, Upstream
from mixcore.providers.tokens import input_modalities
from mixcore.routing.categories import categorise
from mixcore.routing.thresholds import shipped_tables, threshold_for
from mixcore.schemas import ChatCompletionRequest, MixOverrides
from mixcore.store.base import Store

MIX_PREFIXES = ("index/", "synthesis/", "cascade/", "vote/", "route/")
T = TypeVar("T")
MISS_RELOAD_SECONDS = 1.0


class TTLCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._values.pop(key, None)

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            cached: T = hit[1]
            return cached
        value = load()
        with self._lock:
            self._values[key] = (now + self.ttl, value)
        return value


class MixRegistry:
    """Finds mixes by id and resolves them against the latest stored rankings."""

    def __init__(self, store: Callable[[], Store], upstream: Upstream) -> None:
        self.store = store
        self.upstream = upstream
        self.cache = TTLCache(upstream.settings.cache_ttl_seconds)
        self._reloaded_on_miss = -MISS_RELOAD_SECONDS

    def mixes(self) -> dict[str, MixDefinition]:
        def load() -> dict[str, MixDefinition]:
            merged = dict(default_mixes())
            for raw in self.store().list_mixes():
                mix = parse_mix(raw)
                merged[mix.id] = mix
            return merged

        return self.cache.get("mixes", load)

    def get(self, mix_id: str) -> MixDefinition:
        mix = self.mixes().get(mix_id)
        if mix is None:
            # A mix added a moment ago (`mixcore mixes put`) must not be a 404 for the cache's lifetime: a miss
            # reads the store again (at most once a second, so unknown ids cannot turn into a read each).
            # Edits to an existing mix arrive within the cache TTL.
            now = time.monotonic()
            if now - self._reloaded_on_miss >= MISS_RELOAD_SECONDS:
                self._reloaded_on_miss = now
                self.cache.forget("mixes")
                mix = self.mixes().get(mix_id)
        if mix is None:
            raise ModelNotFound(f"The mix {mix_id!r} does not exist. GET /v1/mixes lists them.", param="model")
        return mix

    def ranking(self, source: str, category: str) -> dict[str, Any] | None:
        return self.cache.get(("ranking", source, category), lambda: latest_ranking(self.store(), source, category))

    def resolve_index(self, mix: IndexMix, overrides: MixOverrides | None = None) -> Resolution:
        ranking = self.ranking(mix.source, mix.category)
        if ranking is None:
            raise MixUnavailable(f"No ranking is stored for {mix.source}/{mix.category} yet, so {mix.id} cannot "
                                 "choose a model. Run the indexer (`mixcore refresh`).")
        return resolve_index(mix, ranking, self.upstream, overrides)

    def member_candidates(self, model: str, overrides: MixOverrides | None = None) -> list[Candidate]:
        """Candidates for a member of a composite mix: `provider/model`, `index/x` or `index/x#N`, under the
        request's `mix` constraints when given (a named model that breaks them gives none)."""
        if model.startswith("index/"):
            mix_id, _, position = model.partition("#")
            mix = self.get(mix_id)
            if not isinstance(mix, IndexMix):
                raise ModelNotFound(f"{mix_id!r} is not an index mix", param="model")
            candidates = self.resolve_index(mix, overrides).candidates
            start = int(position) - 1 if position.isdigit() and int(position) > 0 else 0
            if start >= len(candidates):
                raise MixUnavailable(f"{model}: {mix_id} has only {len(candidates)} available candidates")
            return candidates[start:]
        return self.direct_candidates(model, overrides)

    def direct_candidates(self, model: str, overrides: MixOverrides | None) -> list[Candidate]:
        """A `provider/model`, unless it breaks the request's `mix` constraints (then none)."""
        candidate = self.upstream.direct_candidate(model)
        if overrides is not None:
            found = self.upstream.catalog.get(candidate.model_id)
            if found is not None and violation(found, constrained(Constraints(), overrides)):
                return []
        return [candidate]

    def route_table(self, key_id: str | None, router: str) -> list[float] | None:
        """The key's own routing quantiles (`mixcore route calibrate`), when it has some."""
        if key_id is None:
            return None
        found = self.cache.get(("route", key_id, router), lambda: self.store().get_route_table(key_id, router))
        return [float(v) for v in found["quantiles"]] if found else None

    def plan(self, request: ChatCompletionRequest, key_id: str | None = None) -> Plan:
        """What the request's `model` resolves to: a mix's plan, or a direct model with its fallbacks."""
        model = request.model
        if not model.startswith(MIX_PREFIXES):
            check_route_request(request, None)
            candidates = self.direct_candidates(model, request.mix)
            if not candidates:
                raise InvalidRequest(f"{model} breaks the request's mix constraints; ask for another model or mix.",
                                     param="mix")
            candidates += [c for m in request.models or [] if m != model
                           for c in self.direct_candidates(m, request.mix)]
            return Plan(kind="direct", mix_id=None, candidates=candidates)
        needed = input_modalities(request.upstream_params().get("messages") or [])
        if needed:  # a mix passes over the models that cannot read the request's images or audio
            overrides = request.mix or MixOverrides()
            request = request.model_copy(update={"mix": overrides.model_copy(
                update={"modalities": sorted(needed | set(overrides.modalities or []))})})
        mix = self.get(model)
        check_route_request(request, mix)
        if isinstance(mix, RouteMix):
            return route_plan(mix, request, self, self.upstream, self.route_table(key_id, mix.router))
        if isinstance(mix, AutoIndexMix):
            return self.auto_plan(mix, request, key_id)
        if not isinstance(mix, IndexMix):
            return composite_plan(mix, request, self, self.upstream)
        resolution = self.resolve_index(mix, request.mix)
        if not resolution.candidates:
            raise MixUnavailable(f"{mix.id}: no candidate in the top of {mix.source}/{mix.category} is callable "
                                 "under the mix's constraints.",
                                 details={"skipped": passed_over(resolution.skipped, None)})
        return Plan(kind="index", mix_id=mix.id, candidates=resolution.candidates,
                    info={"ranking": resolution.ranking_info()}, skipped=resolution.skipped,
                    defaults=dict(mix.defaults), attempt_timeout=mix.attempt_timeout_seconds)

    def auto_plan(self, mix: AutoIndexMix, request: ChatCompletionRequest, key_id: str | None) -> Plan:
        """The plan of the index mix for the prompt's category, saying which category and why."""
        category = categorise(request.upstream_params().get("messages") or [])
        target = f"index/{mix.source}-{category.name}"
        chosen = self.mixes().get(target)
        if not isinstance(chosen, IndexMix):
            target = mix.fallback
        plan = self.plan(request.model_copy(update={"model": target}), key_id)
        plan.info = {"auto": {"category": category.name, "why": category.why, "mix": target}, **plan.info}
        plan.mix_id = mix.id
        plan.defaults = {**plan.defaults, **mix.defaults}
        return plan

    def describe(self, mix_id: str) -> dict[str, Any]:
        mix = self.get(mix_id)
        view: dict[str, Any] = {"id": mix.id, "object": "mix", "definition": mix.model_dump(mode="json"),
                                "catalog_version": self.upstream.catalog.version}
        if isinstance(mix, RouteMix):
            try:
                plan = route_plan(mix, ChatCompletionRequest.model_validate(
                    {"model": mix.id, "messages": [{"role": "user", "content": ""}]}), self, self.upstream)
            except MixUnavailable as error:
                view["resolution"] = {"error": error.message}
            else:
                route = plan.info["route"]
                view["resolution"] = {"strong": route["strong"], "weak": route["weak"], "router": mix.router,
                                      "threshold": mix.verify_threshold if mix.router == "self-verify" else
                                      threshold_for(shipped_tables()[mix.router], mix.strong_share)}
        if isinstance(mix, IndexMix):
            try:
                resolution = self.resolve_index(mix)
            except MixUnavailable as error:
                view["resolution"] = {"error": error.message}
            else:
                view["resolution"] = {"ranking": resolution.ranking_info(), "candidates": resolution.details,
                                      "skipped": passed_over(resolution.skipped, None)}
        return view
