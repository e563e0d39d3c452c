"""Request metrics come from the answer's cost record; refusals before any call are counted too."""

from __future__ import annotations

from mixcore.costs.records import CallLine, CostRecord
from mixcore.observability import emit_request_metrics, metrics


def test_budget_refusal_is_counted() -> None:
    metrics.clear_metrics()
    emit_request_metrics(None, status=402, latency_ms=3.0)
    assert metrics.metric_set["BudgetBreaches"]["Value"] == [1.0]
    assert metrics.metric_set["ClientErrors"]["Value"] == [1.0]
    metrics.clear_metrics()


def test_fallbacks_and_upstream_errors_from_the_record() -> None:
    metrics.clear_metrics()
    calls = [CallLine(provider="openai", model="openai/gpt-4o", outcome="error", error="timeout"),
             CallLine(provider="anthropic", model="anthropic/claude-sonnet-4-5", cost_usd=0.002)]
    record = CostRecord(request_id="r", time="2026-11-22T00:00:00+00:00", key_id="k", mix_id="index/x",
                        model="anthropic/claude-sonnet-4-5", calls=calls).finalise()
    emit_request_metrics(record, status=200, latency_ms=12.0)
    assert metrics.metric_set["UpstreamErrors"]["Value"] == [1.0]
    assert metrics.metric_set["Fallbacks"]["Value"] == [1.0]
    assert metrics.metric_set["CostUSD"]["Value"] == [0.002]
    assert "BudgetBreaches" not in metrics.metric_set
    metrics.clear_metrics()
