"""Per-key budgets and rate limits: atomic counters, and money held before any upstream call.

A budgeted request holds its key's money in two steps. Before each upstream call,
`Spending.try_reserve` adds the most that call could cost (see `costs/pricing.CallBounds`) to the
month's committed money with one conditional update, refused when the budget would be passed, and
keeps it on the request's hold. After the request (answered, failed or abandoned), `Spending.settle`
swaps everything it reserved for what its calls cost, exactly once (the hold is marked settled in the
same transaction, so a retried settle counts nothing twice). A hold whose request never settled (a
crash) is given back after `hold_seconds` by the next request that finds the budget short. So any
number of concurrent requests commit at most the budget, and every billed call counts, whatever
became of the request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mixcore.errors import BudgetExceeded, RateLimited
from mixcore.store.base import UsageStore


def month(now: datetime | None = None) -> str:
    return "MONTH#" + (now or datetime.now(UTC)).strftime("%Y-%m")


def usd(amount: float) -> str:
    """Money as people read it: cents above a dollar, enough digits below one that a budget never reads $0.00."""
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    text = f"{amount:.8f}".rstrip("0").rstrip(".")
    return f"${text}" if text not in ("0", "-0") or amount == 0 else "$0.00000001"


def check_before_call(store: UsageStore, key_id: str, *, monthly_budget_usd: float | None,
                      requests_per_minute: int | None) -> None:
    """429 past the key's requests per minute; 402 once its month's committed money reached the budget."""
    if requests_per_minute:
        minute = int(time.time() // 60)
        counted = store.add_usage(key_id, f"MINUTE#{minute}", requests=1, expires_at=(minute + 2) * 60)
        if counted["requests"] > requests_per_minute:
            raise RateLimited(f"Rate limit reached for this key: {requests_per_minute} requests per minute.")
    if monthly_budget_usd is not None:
        counters = store.add_usage(key_id, month())
        if counters.get("committed_usd", 0.0) >= monthly_budget_usd and store.release_expired_holds(
                key_id, month(), int(time.time())) > 0:
            counters = store.add_usage(key_id, month())
        # committed_usd covers spend and holds; cost_usd alone still counts for a month begun before holds existed.
        if counters.get("committed_usd", 0.0) >= monthly_budget_usd or counters["cost_usd"] >= monthly_budget_usd:
            raise BudgetExceeded(f"This key has spent {usd(counters['cost_usd'])} of its {usd(monthly_budget_usd)} "
                                 "monthly budget (with what requests in flight hold).")


@dataclass
class Spending:
    """One request's hold on its key's monthly budget."""

    store: UsageStore
    key_id: str
    budget_usd: float
    allow_unpriced: bool = False
    period: str = field(default_factory=month)
    reserved_usd: float = 0.0
    request_id: str | None = None  # names the request's hold: its settle counts once
    hold_seconds: int = 1200  # after this, a hold never settled (a crashed request) is given back

    async def try_reserve(self, amount_usd: float) -> float | None:
        """Hold `amount_usd` if the budget has room: None when it is held, else the committed total that left no
        room for it. When there is no room, holds that outlived their time (requests that never settled) are given
        back first."""
        granted, committed = await asyncio.to_thread(self._reserve, amount_usd)
        if not granted and await asyncio.to_thread(self.store.release_expired_holds, self.key_id, self.period,
                                                   int(time.time())) > 0:
            granted, committed = await asyncio.to_thread(self._reserve, amount_usd)
        if granted:
            self.reserved_usd += amount_usd
            return None
        return committed or 0.0  # a refusal always says what it found

    def _reserve(self, amount_usd: float) -> tuple[bool, float | None]:
        return self.store.reserve_spend(self.key_id, self.period, amount_usd, self.budget_usd, hold=self.request_id,
                                        hold_until=int(time.time()) + self.hold_seconds)

    def refusal(self, amount_usd: float, committed_usd: float, what: str) -> BudgetExceeded:
        """The 402 for a call that cannot be paid, with the numbers that decided it."""
        return BudgetExceeded(
            f"This key's monthly budget is {usd(self.budget_usd)}; {usd(committed_usd)} of it is spent or held by "
            f"requests in flight, leaving {usd(max(0.0, self.budget_usd - committed_usd))}, and {what} could cost "
            f"up to {usd(amount_usd)}. Shorten the prompt or lower max_tokens, or raise the key's budget.",
            details={"budget_usd": self.budget_usd, "committed_usd": round(committed_usd, 8),
                     "call_max_usd": round(amount_usd, 8)})

    def settle(self, cost_usd: float) -> bool:
        """Replace every reservation with the request's real cost, once (a retry counts nothing twice)."""
        return self.store.settle_spend(self.key_id, self.period, reserved_usd=self.reserved_usd, cost_usd=cost_usd,
                                       hold=self.request_id, now=int(time.time()))
