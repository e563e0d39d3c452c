"""In-memory store with the same behaviour as DynamoStore, for unit tests and benchmarks."""

from __future__ import annotations

import copy
import threading
from typing import Any

from mixcore.auth.keys import ClientKey


class MemoryStore:
    def __init__(self) -> None:
        self.keys: dict[str, ClientKey] = {}
        self.latest: dict[tuple[str, str], dict[str, Any]] = {}
        self.snapshots: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.mixes: dict[str, dict[str, Any]] = {}
        self.usage: dict[tuple[str, str], dict[str, float]] = {}
        self.holds: dict[tuple[str, str, str], dict[str, float]] = {}  # (key, period, request id) → its hold
        self.route_tables: dict[tuple[str, str], dict[str, Any]] = {}  # (key, router) → its quantiles
        self.catalog: dict[str, dict[str, Any]] = {}
        self.catalog_versions: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.price_tables: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._lock = threading.Lock()

    def put_key(self, key: ClientKey) -> None:
        self.keys[key.key_hash] = key.model_copy()

    def get_key(self, key_hash: str) -> ClientKey | None:
        key = self.keys.get(key_hash)
        return key.model_copy() if key else None

    def list_keys(self) -> list[ClientKey]:
        return [k.model_copy() for k in self.keys.values()]

    def revoke_key(self, key_id: str) -> bool:
        for key in self.keys.values():
            if key.key_id == key_id:
                key.revoked = True
                return True
        return False

    def get_latest(self, source: str, category: str) -> dict[str, Any] | None:
        ranking = self.latest.get((source, category))
        return copy.deepcopy(ranking) if ranking else None

    def put_ranking(self, ranking: dict[str, Any]) -> None:
        key = (ranking["source"], ranking["category"])
        self.latest[key] = copy.deepcopy(ranking)
        self.snapshots.setdefault(key, []).append(copy.deepcopy(ranking))

    def list_latest(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for _, r in sorted(self.latest.items())]

    def history(self, source: str, category: str, limit: int) -> list[dict[str, Any]]:
        return copy.deepcopy(list(reversed(self.snapshots.get((source, category), [])))[:limit])

    def list_mixes(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(m) for _, m in sorted(self.mixes.items())]

    def put_mix(self, mix: dict[str, Any]) -> None:
        self.mixes[mix["id"]] = copy.deepcopy(mix)

    def put_route_table(self, key_id: str, router: str, table: dict[str, Any]) -> None:
        self.route_tables[(key_id, router)] = copy.deepcopy(table)

    def get_route_table(self, key_id: str, router: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.route_tables.get((key_id, router)))

    def catalog_head(self) -> dict[str, Any]:
        return {"state": copy.deepcopy(self.catalog.get("STATE")),
                "overrides": copy.deepcopy(self.catalog.get("OVERRIDES"))}

    def put_catalog_version(self, version: str, summary: dict[str, Any], body: bytes) -> None:
        self.catalog_versions[version] = (copy.deepcopy(summary), body)

    def get_catalog_version(self, version: str) -> bytes | None:
        found = self.catalog_versions.get(version)
        return found[1] if found else None

    def catalog_history(self, limit: int) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.catalog_versions[v][0]) for v in sorted(self.catalog_versions, reverse=True)][
            :limit]

    def put_catalog_state(self, state: dict[str, Any]) -> None:
        self.catalog["STATE"] = copy.deepcopy(state)

    def put_catalog_overrides(self, overrides: dict[str, Any]) -> None:
        self.catalog["OVERRIDES"] = copy.deepcopy(overrides)

    def get_price_table(self, source: str) -> tuple[dict[str, Any], bytes] | None:
        found = self.price_tables.get(source)
        return (copy.deepcopy(found[0]), found[1]) if found else None

    def put_price_table(self, source: str, stamp: dict[str, Any], body: bytes) -> None:
        self.price_tables[source] = (copy.deepcopy(stamp), body)

    def add_usage(self, key_id: str, period: str, *, requests: int = 0, cost_usd: float = 0.0,
                  expires_at: int | None = None) -> dict[str, float]:
        with self._lock:
            counter = self._counter(key_id, period)
            counter["requests"] += requests
            counter["cost_usd"] += cost_usd
            return dict(counter)

    def _counter(self, key_id: str, period: str) -> dict[str, float]:
        return self.usage.setdefault((key_id, period), {"requests": 0.0, "cost_usd": 0.0, "committed_usd": 0.0})

    def reserve_spend(self, key_id: str, period: str, amount_usd: float, budget_usd: float, *,
                      hold: str | None = None, hold_until: int = 0) -> tuple[bool, float | None]:
        with self._lock:
            counter = self._counter(key_id, period)
            if amount_usd > budget_usd or counter["committed_usd"] > budget_usd - amount_usd:
                return False, counter["committed_usd"]
            counter["committed_usd"] += amount_usd
            if hold is not None:
                item = self.holds.setdefault((key_id, period, hold), {"held_usd": 0.0})
                item["held_usd"] += amount_usd
                item["hold_until"] = hold_until
            return True, counter["committed_usd"]

    def settle_spend(self, key_id: str, period: str, *, reserved_usd: float, cost_usd: float,
                     requests: int = 1, hold: str | None = None, now: int = 0) -> bool:
        with self._lock:
            counter = self._counter(key_id, period)
            item = self.holds.setdefault((key_id, period, hold), {"held_usd": 0.0}) if hold is not None else {}
            if "settled_at" in item:
                return False
            item["settled_at"] = now
            # A hold already released gave its money back: only the cost is added.
            counter["committed_usd"] += cost_usd - (0.0 if "released_at" in item else reserved_usd)
            counter["cost_usd"] += cost_usd
            counter["requests"] += requests
            return True

    def release_expired_holds(self, key_id: str, period: str, now: int) -> float:
        released = 0.0
        with self._lock:
            for (key, month, _), item in self.holds.items():
                if (key, month) == (key_id, period) and item.get("hold_until", now) < now and not (
                        "settled_at" in item or "released_at" in item):
                    item["released_at"] = now
                    self._counter(key_id, period)["committed_usd"] -= item["held_usd"]
                    released += item["held_usd"]
        return released
