"""The model catalog (data, not code): which provider model ids exist, their prices and aliases."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from mixcore.catalog.models import CatalogFile, CatalogModel, Overrides

__all__ = ["Catalog", "CatalogModel", "get_catalog", "normalise_name", "packaged_catalog_file"]

_NON_ALNUM = re.compile(r"[^a-z0-9.]+")


def normalise_name(name: str) -> str:
    """The form in which leaderboard names and aliases are compared: lower case, runs of punctuation → '-'."""
    return _NON_ALNUM.sub("-", name.strip().lower()).strip("-")


@dataclass
class Catalog:
    models: dict[str, CatalogModel]
    unmapped: dict[str, str] = field(default_factory=dict)
    version: str = ""
    _by_alias: dict[str, str] = field(default_factory=dict)
    # map_entry's answers, remembered (a catalog does not change once built)
    _entry_ids: dict[tuple[Any, Any], str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_file(cls, data: CatalogFile) -> Catalog:
        free = free_models()
        catalog = cls(models={m.id: unpriced_if_wrongly_free(m, free) for m in data.models},
                      unmapped={normalise_name(u.name): u.reason for u in data.unmapped}, version=data.version)
        # A leaderboard name attached by the build wins over another model's own API id spelled the same way
        # ('DeepSeek-V3' is the 2024-12 model wherever a provider's `deepseek-v3` now points).
        for own_ids in (False, True):
            for model in data.models:
                for alias in model.aliases:
                    form = normalise_name(alias)
                    # ...and a name the build declared unmapped is not caught by a model's own id either.
                    if (alias == model.api_model) == own_ids and not (own_ids and form in catalog.unmapped):
                        catalog._by_alias.setdefault(form, model.id)
        return catalog

    def get(self, model_id: str) -> CatalogModel | None:
        return self.models.get(model_id)

    def resolve_name(self, leaderboard_name: str) -> CatalogModel | None:
        """The catalog model a leaderboard name refers to, through its aliases."""
        model_id = self._by_alias.get(normalise_name(leaderboard_name))
        return self.models.get(model_id) if model_id else None

    def map_entry(self, entry: Mapping[str, Any]) -> str | None:
        """The catalog id a leaderboard entry names (by its arena key, then its display name), or None."""
        names = (entry.get("key"), entry.get("name"))
        if names not in self._entry_ids:
            self._entry_ids[names] = self._map_names(names)
        return self._entry_ids[names]

    def _map_names(self, names: tuple[Any, Any]) -> str | None:
        for name in names:
            if name:
                model = self.resolve_name(str(name))
                if model is not None:
                    return model.id
                if normalise_name(str(name)) in self.unmapped:  # the exact id is known not to be callable
                    return None
        return None

    def unmapped_reason(self, leaderboard_name: str) -> str:
        return self.unmapped.get(normalise_name(leaderboard_name), "no catalog entry for this name")

    def by_provider(self, provider: str) -> list[CatalogModel]:
        return [m for m in self.models.values() if m.provider == provider]


@lru_cache(maxsize=1)
def free_models() -> dict[str, str]:
    """data/free_models.json: pattern of catalog ids → the provider's word that they are free."""
    text = resources.files("mixcore.catalog").joinpath("data/free_models.json").read_text()
    return dict(json.loads(text)["free"])


def free_at_provider(model_id: str, free: Mapping[str, str]) -> bool:
    return any(fnmatch.fnmatchcase(model_id, pattern) for pattern in free)


def unpriced_if_wrongly_free(model: CatalogModel, free: Mapping[str, str]) -> CatalogModel:
    """A model priced $0 in and out that its provider does not serve free is unpriced: a paid model listed at $0
    is a price-table error, and calling it on a budget would count nothing."""
    price = model.price
    if price is None or price.input or price.output or free_at_provider(model.id, free):
        return model
    return model.model_copy(update={"price": None, "price_source": "",
                                    "unpriced": "listed at $0 but not free at its provider (catalog/data/"
                                                "free_models.json)"})


@lru_cache(maxsize=1)
def packaged_catalog_file() -> CatalogFile:
    """The catalog built into the package: the seed of every store, and what answers until the indexer's first
    catalog (and whenever the store cannot be read)."""
    text = resources.files("mixcore.catalog").joinpath("data/catalog.json").read_text()
    return CatalogFile.model_validate_json(text)


def packaged_overrides() -> Overrides:
    """The hand-kept overrides.json the package's builds apply."""
    return Overrides.model_validate_json(resources.files("mixcore.catalog").joinpath("data/overrides.json").read_text())


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The packaged catalog."""
    return Catalog.from_file(packaged_catalog_file())
