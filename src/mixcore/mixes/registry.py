"""Mix lookup for a warm container: definitions (package defaults + the store) and rankings, TTL-cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mixcore.api.schemas import ChatCompletionRequest, MixOverrides
from mixcore.catalog import Catalog
from mixcore.errors import MixcoreError, ModelNotFound
from mixcore.mixes.chain import Candidate
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.definitions import IndexMix, MixDefinition, default_mixes, parse_mix
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.index import Resolution, resolve_index
from mixcore.mixes.plans import Plan
from mixcore.providers.config import ProviderConfig

MIX_PREFIXES = ("index/", "synthesis/", "cascade/", "vote/")


class MixUnavailable(MixcoreError):
    status = 503
    error_type = "upstream_error"
    code = "mix_unavailable"


class TTLCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            self._values[key] = (now + self.ttl, value)
        return value


class MixRegistry:
    """Finds mixes by id and resolves them against the latest stored rankings."""

    def __init__(self, store: Callable[[], Any], catalog: Catalog, providers: dict[str, ProviderConfig],
                 cooldowns: Cooldowns, ttl: float) -> None:
        self.store = store
        self.catalog = catalog
        self.providers = providers
        self.cooldowns = cooldowns
        self.cache = TTLCache(ttl)

    def mixes(self) -> dict[str, MixDefinition]:
        def load() -> dict[str, MixDefinition]:
            merged = dict(default_mixes())
            for raw in self.store().list_mixes():
                mix = parse_mix(raw)
                merged[mix.id] = mix
            return merged

        result: dict[str, MixDefinition] = self.cache.get("mixes", load)
        return result

    def get(self, mix_id: str) -> MixDefinition:
        mix = self.mixes().get(mix_id)
        if mix is None:
            raise ModelNotFound(f"The mix {mix_id!r} does not exist. GET /v1/mixes lists them.", param="model")
        return mix

    def ranking(self, source: str, category: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.cache.get(("ranking", source, category),
                                                       lambda: self.store().get_latest(source, category))
        return result

    def resolve_index(self, mix: IndexMix, overrides: MixOverrides | None = None) -> Resolution:
        ranking = self.ranking(mix.source, mix.category)
        if ranking is None:
            raise MixUnavailable(f"No ranking is stored for {mix.source}/{mix.category} yet, so {mix.id} cannot "
                                 "choose a model. Run the indexer (`mixcore refresh`).")
        return resolve_index(mix, ranking, self.catalog, self.providers, self.cooldowns, overrides)

    def member_candidates(self, model: str, gateway: Gateway) -> list[Candidate]:
        """Candidates for a member of a composite mix: `provider/model`, `index/x` or `index/x#N`."""
        if model.startswith("index/"):
            mix_id, _, position = model.partition("#")
            mix = self.get(mix_id)
            if not isinstance(mix, IndexMix):
                raise ModelNotFound(f"{mix_id!r} is not an index mix", param="model")
            candidates = self.resolve_index(mix).candidates
            start = int(position) - 1 if position.isdigit() and int(position) > 0 else 0
            if start >= len(candidates):
                raise MixUnavailable(f"{model}: {mix_id} has only {len(candidates)} available candidates")
            return candidates[start:]
        return [gateway.direct_candidate(model)]

    def plan(self, model: str, request: ChatCompletionRequest, gateway: Gateway) -> Plan | None:
        if not model.startswith(MIX_PREFIXES):
            return None
        mix = self.get(model)
        if isinstance(mix, IndexMix):
            resolution = self.resolve_index(mix, request.mix)
            if not resolution.candidates:
                raise MixUnavailable(f"{mix.id}: no candidate in the top of {mix.source}/{mix.category} is callable "
                                     "under the mix's constraints.", details={"skipped": resolution.skipped})
            return Plan(kind="index", mix_id=mix.id, candidates=resolution.candidates,
                        info={"ranking": resolution.ranking_info()}, skipped=resolution.skipped,
                        defaults=dict(mix.defaults), attempt_timeout=mix.attempt_timeout_seconds)
        from mixcore.mixes.composite import composite_plan

        return composite_plan(mix, request, self, gateway)

    def describe(self, mix_id: str) -> dict[str, Any]:
        mix = self.get(mix_id)
        view: dict[str, Any] = {"id": mix.id, "object": "mix", "definition": mix.model_dump(mode="json")}
        if isinstance(mix, IndexMix):
            try:
                resolution = self.resolve_index(mix)
            except MixUnavailable as error:
                view["resolution"] = {"error": error.message}
            else:
                view["resolution"] = {"ranking": resolution.ranking_info(), "candidates": resolution.details,
                                      "skipped": resolution.skipped}
        return view


def install(gateway: Gateway, store: Callable[[], Any]) -> MixRegistry:
    registry = MixRegistry(store, gateway.catalog, gateway.providers, gateway.cooldowns,
                           gateway.settings.cache_ttl_seconds)
    gateway.mix_resolvers[:] = [lambda model, request: registry.plan(model, request, gateway)]
    gateway.registry = registry
    return registry


def install_resolvers(gateway: Gateway, store: Callable[[], Any]) -> None:
    install(gateway, store)
