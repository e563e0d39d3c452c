"""The catalog a warm container prices and maps names with: the live version in the store (the packaged file
until the indexer has built one), with the operator's overrides on top, read again within the cache window.

Reading it never fails a request: when the store cannot be read, the catalog already held (or the packaged
one) keeps answering, and the failure is logged.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from mixcore.catalog import Catalog, get_catalog, normalise_name, packaged_catalog_file
from mixcore.catalog.models import CatalogFile, Overrides, UnmappedName
from mixcore.catalog.prices import content_hash
from mixcore.observability import logger
from mixcore.store.base import CatalogStore

# With a zero cache TTL (tests, the local stack) the store is read when a request begins and, within it, at most
# this often (a request reads the catalog many times).
MIN_CHECK_SECONDS = 1.0
OVERRIDE_PRICE_SOURCE = "override"


class CatalogSource(Protocol):
    def current(self) -> Catalog:
        """The catalog to use now."""
        ...

    def begin_request(self) -> Catalog:
        """The catalog a new request starts with."""
        ...


@dataclass
class FixedCatalog:
    """One catalog for good (unit tests, benchmarks)."""

    catalog: Catalog

    def current(self) -> Catalog:
        return self.catalog

    def begin_request(self) -> Catalog:
        return self.catalog


def apply_overrides(file: CatalogFile, overrides: Overrides) -> CatalogFile:
    """The catalog with an operator's overrides on top: whole models added, ids excluded, prices set, and
    leaderboard names pointed at a model or declared not callable. Its version names the overrides too."""
    if overrides.is_empty():
        return file
    result = file.model_copy(deep=True)
    models = {m.id: m for m in result.models}
    for model in overrides.models:
        models[model.id] = model.model_copy(deep=True)
    for model_id in overrides.exclude:
        models.pop(model_id, None)
    for model_id, price in overrides.prices.items():
        if model_id in models:
            models[model_id].price, models[model_id].price_source = price.model_copy(), OVERRIDE_PRICE_SOURCE
    named = {normalise_name(n) for n in [*overrides.aliases, *overrides.unmapped]}
    for model in models.values():
        model.aliases = [a for a in model.aliases if a == model.api_model or normalise_name(a) not in named]
    for name, model_id in overrides.aliases.items():
        if model_id in models:
            models[model_id].aliases.append(name)
    result.unmapped = [u for u in result.unmapped if normalise_name(u.name) not in named]
    result.unmapped += [UnmappedName(name=name, reason=reason) for name, reason in overrides.unmapped.items()]
    result.models = sorted(models.values(), key=lambda m: m.id)
    result.version = f"{file.version}+{content_hash(overrides.model_dump(mode='json'))[:6]}"
    return result


def load_version(store: CatalogStore, version: str) -> CatalogFile | None:
    body = store.get_catalog_version(version)
    return CatalogFile.model_validate_json(gzip.decompress(body)) if body is not None else None


def stored_overrides(head: dict[str, Any]) -> Overrides:
    raw = head.get("overrides")
    if not raw:
        return Overrides()
    try:
        return Overrides.model_validate(raw)
    except ValidationError as error:
        logger.error("stored catalog overrides are not valid; ignored", extra={"error": str(error)[:500]})
        return Overrides()


def live_file(store: CatalogStore, head: dict[str, Any] | None = None) -> CatalogFile:
    """The live catalog file without the operator's overrides: the stored version, else the packaged one."""
    head = head if head is not None else store.catalog_head()
    version = (head.get("state") or {}).get("version")
    if version and version != packaged_catalog_file().version:
        found = load_version(store, str(version))
        if found is not None:
            return found
        logger.error("the live catalog version is missing from the store; using the packaged catalog",
                     extra={"version": version})
    return packaged_catalog_file()


class LiveCatalog:
    """Reads the store's live catalog at most once per cache window; a new version or new overrides replace
    the catalog held, anything else keeps it (one small query per window, the body only when it changed)."""

    def __init__(self, store: Callable[[], CatalogStore], ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.window = max(ttl_seconds, MIN_CHECK_SECONDS)
        self.clock = clock
        self._catalog: Catalog | None = None
        self._key: tuple[str | None, str | None] | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> Catalog:
        held = self._catalog
        if held is not None and self.clock() < self._checked_at + self.window:
            return held
        # One thread reads the store; the others go on with the catalog held (there is always one after the
        # first read).
        if not self._lock.acquire(blocking=held is None):
            return held  # type: ignore[return-value]
        try:
            if self._catalog is None or self.clock() >= self._checked_at + self.window:
                self._reload()
        finally:
            self._lock.release()
        assert self._catalog is not None
        return self._catalog

    def begin_request(self) -> Catalog:
        """With a zero TTL the store is read now, so `mixcore catalog put` shows on the very next request."""
        if self.ttl_seconds <= 0:
            self.forget()
        return self.current()

    def forget(self) -> None:
        """Read the store at the next use (after `mixcore catalog put` in the same process)."""
        self._checked_at = float("-inf")

    def _reload(self) -> None:
        self._checked_at = self.clock()
        try:
            store = self.store()
            head = store.catalog_head()
            version = (head.get("state") or {}).get("version")
            overrides = head.get("overrides") or None
            key = (str(version) if version else None, content_hash(overrides) if overrides else None)
            if key == self._key and self._catalog is not None:
                return
            file = apply_overrides(live_file(store, head), stored_overrides(head))
        except Exception as error:  # the store being unreachable must not fail requests
            logger.warning("could not read the live catalog; keeping the one held",
                           extra={"error": f"{type(error).__name__}: {error}"[:300]})
            if self._catalog is None:
                self._catalog = get_catalog()
            return
        self._catalog = get_catalog() if file is packaged_catalog_file() else Catalog.from_file(file)
        self._key = key
