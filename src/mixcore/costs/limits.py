"""Per-key budgets and rate limits, kept as atomic DynamoDB counters and checked before any upstream call."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from mixcore.errors import BudgetExceeded, RateLimited
from mixcore.store.base import UsageStore


def month(now: datetime | None = None) -> str:
    return "MONTH#" + (now or datetime.now(UTC)).strftime("%Y-%m")


def check_before_call(store: UsageStore, key_id: str, *, monthly_budget_usd: float | None,
                      requests_per_minute: int | None) -> None:
    """Raise 429 past the key's requests per minute, 402 once its month's spend reached the budget."""
    if requests_per_minute:
        minute = int(time.time() // 60)
        counted = store.add_usage(key_id, f"MINUTE#{minute}", requests=1, expires_at=(minute + 2) * 60)
        if counted["requests"] > requests_per_minute:
            raise RateLimited(f"Rate limit reached for this key: {requests_per_minute} requests per minute.")
    if monthly_budget_usd is not None:
        spent = store.add_usage(key_id, month())["cost_usd"]
        if spent >= monthly_budget_usd:
            raise BudgetExceeded(f"This key has spent ${spent:.4f} of its ${monthly_budget_usd:.2f} monthly budget.")


def record_spend(store: UsageStore, key_id: str, cost_usd: float) -> None:
    store.add_usage(key_id, month(), requests=1, cost_usd=cost_usd)
