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

    def add_usage(self, key_id: str, period: str, *, requests: int = 0, cost_usd: float = 0.0,
                  expires_at: int | None = None) -> dict[str, float]:
        with self._lock:
            counter = self._counter(key_id, period)
            counter["requests"] += requests
            counter["cost_usd"] += cost_usd
            return dict(counter)

    def _counter(self, key_id: str, period: str) -> dict[str, float]:
        return self.usage.setdefault((key_id, period), {"requests": 0.0, "cost_usd": 0.0, "committed_usd": 0.0})

    def reserve_spend(self, key_id: str, period: str, amount_usd: float, budget_usd: float) -> tuple[bool, float]:
        with self._lock:
            counter = self._counter(key_id, period)
            if amount_usd > budget_usd or counter["committed_usd"] > budget_usd - amount_usd:
                return False, counter["committed_usd"]
            counter["committed_usd"] += amount_usd
            return True, counter["committed_usd"]

    def settle_spend(self, key_id: str, period: str, *, reserved_usd: float, cost_usd: float,
                     requests: int = 1) -> None:
        with self._lock:
            counter = self._counter(key_id, period)
            counter["committed_usd"] += cost_usd - reserved_usd
            counter["cost_usd"] += cost_usd
            counter["requests"] += requests
