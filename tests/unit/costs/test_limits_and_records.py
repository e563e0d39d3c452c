"""Budgets, rate limits, cost records and their summaries: the counters a key's money and an operator's report
rest on, with every expected figure written out in the test."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from mixcore.costs import limits
from mixcore.costs.limits import Spending, check_before_call, month
from mixcore.costs.records import CallLine, CostRecord
from mixcore.costs.report import summarise
from mixcore.errors import BudgetExceeded
from mixcore.store.memory import MemoryStore


class RecordingStore(MemoryStore):
    """A memory store that also remembers every add_usage call's arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.added: list[dict[str, Any]] = []

    def add_usage(self, key_id: str, period: str, *, requests: int = 0, cost_usd: float = 0.0,
                  expires_at: int | None = None) -> dict[str, float]:
        self.added.append({"key_id": key_id, "period": period, "requests": requests, "expires_at": expires_at})
        return super().add_usage(key_id, period, requests=requests, cost_usd=cost_usd, expires_at=expires_at)


def test_a_rate_limit_counts_per_minute_and_its_counter_expires_two_minutes_later(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits.time, "time", lambda: 1_800_000_030.0)  # minute 30,000,000, 30 s in
    store = RecordingStore()
    check_before_call(store, "k", monthly_budget_usd=None, requests_per_minute=5)
    assert store.added == [{"key_id": "k", "period": "MINUTE#30000000", "requests": 1,
                            "expires_at": (30_000_000 + 2) * 60}]


def test_money_held_by_requests_in_flight_counts_against_the_budget_before_any_is_spent() -> None:
    store = MemoryStore()
    granted, _ = store.reserve_spend("k", month(), 1.0, 1.0)  # a request in flight holds the whole $1
    assert granted
    with pytest.raises(BudgetExceeded):
        check_before_call(store, "k", monthly_budget_usd=1.0, requests_per_minute=None)


def test_a_hold_whose_request_never_settled_is_given_back_once_its_time_has_passed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    clock = {"now": 1_000_000.0}
    monkeypatch.setattr(limits.time, "time", lambda: clock["now"])
    crashed = Spending(store, "k", budget_usd=1.0, request_id="crashed", hold_seconds=900)
    assert anyio.run(crashed.try_reserve, 0.8) is None  # held; and its container dies before it settles
    later = Spending(store, "k", budget_usd=1.0, request_id="later", hold_seconds=900)
    assert anyio.run(later.try_reserve, 0.5) == 0.8  # refused: within the hold's time, the $0.8 is still held
    with pytest.raises(BudgetExceeded):
        check_before_call(store, "k", monthly_budget_usd=0.8, requests_per_minute=None)
    clock["now"] += 901
    check_before_call(store, "k", monthly_budget_usd=0.8, requests_per_minute=None)  # the hold was given back
    assert anyio.run(later.try_reserve, 0.5) is None
    assert store.add_usage("k", month())["committed_usd"] == 0.5


def test_a_new_hold_holds_nothing_and_refuses_unpriced_models() -> None:
    spending = Spending(MemoryStore(), "k", budget_usd=1.0)
    assert (spending.reserved_usd, spending.allow_unpriced) == (0.0, False)


def call(**fields: Any) -> CallLine:
    return CallLine(provider="openai", model="openai/gpt-4o", outcome="ok", **fields)


def test_a_record_adds_up_its_calls_and_rounds_its_cost_to_a_ten_billionth_of_a_dollar() -> None:
    record = CostRecord(request_id="r", time="2026-12-01T00:00:00+00:00", key_id="k", mix_id=None, model="m",
                        stream=False, status=200, calls=[call(prompt_tokens=10, completion_tokens=2, cost_usd=1.4e-11),
                                                         call(prompt_tokens=5, completion_tokens=1, cost_usd=2e-11)],
                        latency_ms=1.0).finalise()
    assert (record.prompt_tokens, record.completion_tokens) == (15, 3)
    assert record.cost_usd == 0.0  # 3.4e-11 rounds to 0 at 1e-10
    line = call()
    assert (line.reasoning_tokens, line.latency_ms, line.retries, line.cached_tokens) == (0, 0.0, 0, 0)
    assert CostRecord(request_id="r", time="t", key_id=None, mix_id=None, model=None, status=200, calls=[],
                      latency_ms=0.0).stream is False


RECORDS = [
    {"request_id": "a", "time": "2026-12-01T10:00:00+00:00", "key_id": "k1", "mix_id": None, "prompt_tokens": 30,
     "completion_tokens": 6, "cost_usd": 0.5,
     "calls": [{"model": "openai/gpt-4o", "prompt_tokens": 10, "completion_tokens": 2, "cost_usd": 0.25},
               {"model": "openai/gpt-4o", "prompt_tokens": 20, "completion_tokens": 4, "cost_usd": None}]},
    {"request_id": "b", "time": "2026-12-01T11:00:00+00:00", "key_id": "k1", "mix_id": "index/x",
     "prompt_tokens": 7, "completion_tokens": 1, "cost_usd": 0.125,
     "calls": [{"model": "anthropic/claude-haiku-4-5", "prompt_tokens": 7, "completion_tokens": 1,
                "cost_usd": 0.125}]},
]


def test_summaries_by_day_count_requests_and_calls_and_by_model_count_an_unpriced_call_as_nothing() -> None:
    by_day = summarise(RECORDS, "day")
    assert by_day == [{"day": "2026-12-01", "requests": 2, "calls": 3, "prompt_tokens": 37,
                       "completion_tokens": 7, "cost_usd": 0.625}]
    by_model = {row["model"]: row for row in summarise(RECORDS, "model")}
    assert by_model["openai/gpt-4o"]["cost_usd"] == 0.25 and by_model["openai/gpt-4o"]["calls"] == 2
