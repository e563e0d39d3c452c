"""The storage interfaces the domain depends on; DynamoStore and MemoryStore implement all of them.

`tests/unit/store/test_contract.py` runs the same cases against both, so "same behaviour" is tested.
"""

from __future__ import annotations

from typing import Any, Protocol

from mixcore.auth.keys import ClientKey


class KeyStore(Protocol):
    def put_key(self, key: ClientKey) -> None: ...
    def get_key(self, key_hash: str) -> ClientKey | None: ...
    def list_keys(self) -> list[ClientKey]: ...
    def revoke_key(self, key_id: str) -> bool: ...


class RankingStore(Protocol):
    def get_latest(self, source: str, category: str) -> dict[str, Any] | None: ...
    def put_ranking(self, ranking: dict[str, Any]) -> None: ...
    def list_latest(self) -> list[dict[str, Any]]: ...
    def history(self, source: str, category: str, limit: int) -> list[dict[str, Any]]: ...


class MixStore(Protocol):
    def list_mixes(self) -> list[dict[str, Any]]: ...
    def put_mix(self, mix: dict[str, Any]) -> None: ...


class UsageStore(Protocol):
    def add_usage(self, key_id: str, period: str, *, requests: int = 0, cost_usd: float = 0.0,
                  expires_at: int | None = None) -> dict[str, float]:
        """Atomically add to a key's counters for a period; the new totals."""
        ...

    def reserve_spend(self, key_id: str, period: str, amount_usd: float, budget_usd: float, *,
                      hold: str | None = None, hold_until: int = 0) -> tuple[bool, float | None]:
        """Atomically add `amount_usd` to the period's committed money unless that would pass the budget.

        Committed money is what was spent plus what requests in flight hold. With `hold` (a request id) the
        amount is also kept on that request's hold, released by `release_expired_holds` after `hold_until`
        (epoch seconds) if the request never settles. Returns whether the reservation was granted, and the
        committed total: as found when refused (always), after it when granted (None where learning it would
        take another request: DynamoDB's transaction with a hold).
        """
        ...

    def settle_spend(self, key_id: str, period: str, *, reserved_usd: float, cost_usd: float,
                     requests: int = 1, hold: str | None = None, now: int = 0) -> bool:
        """Swap a request's reservation for what its calls cost: committed += cost - reserved, spent += cost.

        With `hold`, exactly once: a repeated settle of the same hold changes nothing and returns False; the
        settle of a hold already released adds the cost alone (its reservation was given back)."""
        ...

    def release_expired_holds(self, key_id: str, period: str, now: int) -> float:
        """Give back the money of every hold past its `hold_until` that was never settled; how much."""
        ...


class RoutingStore(Protocol):
    """A key's own routing thresholds: `{"quantiles": [...101 scores], "prompts": n, "fitted_at": ...}`."""

    def put_route_table(self, key_id: str, router: str, table: dict[str, Any]) -> None: ...
    def get_route_table(self, key_id: str, router: str) -> dict[str, Any] | None: ...


class CatalogStore(Protocol):
    """The live model catalog: every version built (gzip JSON, the history), which one is live, the operator's
    overrides, and the last good price table of each source."""

    def catalog_head(self) -> dict[str, Any]:
        """{"state": the live version's summary or None, "overrides": the operator's overrides or None}."""
        ...

    def put_catalog_version(self, version: str, summary: dict[str, Any], body: bytes) -> None: ...
    def get_catalog_version(self, version: str) -> bytes | None: ...
    def catalog_history(self, limit: int) -> list[dict[str, Any]]: ...
    def put_catalog_state(self, state: dict[str, Any]) -> None: ...
    def put_catalog_overrides(self, overrides: dict[str, Any]) -> None: ...
    def get_price_table(self, source: str) -> tuple[dict[str, Any], bytes] | None: ...
    def put_price_table(self, source: str, stamp: dict[str, Any], body: bytes) -> None: ...


class Store(KeyStore, RankingStore, MixStore, UsageStore, CatalogStore, RoutingStore, Protocol):
    """Everything a Mixcore deployment keeps: keys, rankings, mix definitions, usage counters, the catalog."""
