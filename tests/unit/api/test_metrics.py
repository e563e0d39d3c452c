"""Request metrics come from the answer's cost record; refusals before any call are counted too."""

from __future__ import annotations

import json

import pytest

from mixcore.costs.records import CallLine, CostRecord
from mixcore.observability import emit_request_metrics, flush_metrics, metrics


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


def record_for(mix: str) -> CostRecord:
    calls = [CallLine(provider="openai", model="openai/gpt-4o", outcome="error", error="timeout"),
             CallLine(provider="anthropic", model="anthropic/claude-sonnet-4-5", cost_usd=0.001)]
    return CostRecord(request_id="r", time="2026-11-22T00:00:00+00:00", key_id="key_a", mix_id=mix,
                      model="anthropic/claude-sonnet-4-5", calls=calls).finalise()


def test_disabled_metrics_never_pile_up_or_print(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # Powertools flushes by itself at 100 values of a metric: that must never happen
        emit_request_metrics(record_for("index/x"), status=200, latency_ms=5.0)
        flush_metrics()
    assert metrics.metric_set == {}
    assert '"_aws"' not in capsys.readouterr().out


def test_each_request_prints_its_own_blobs(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    for _ in range(3):
        emit_request_metrics(record_for("index/x"), status=200, latency_ms=5.0, first_token_ms=2.0)
        flush_metrics()
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    dimension_sets = [tuple(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for b in blobs]
    # per request: the service blob, then mix, key and the failing provider's (four sets, three requests)
    assert sorted(dimension_sets) == sorted([("service",), ("Mix", "service"), ("KeyId", "service"),
                                             ("Provider", "service")] * 3)
    values = [b[m["Name"]] for b in blobs for m in b["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert all(not isinstance(v, list) or len(v) == 1 for v in values)  # one value each: nothing piled up
    assert metrics.metric_set == {}


def test_a_routed_request_says_per_mix_whether_the_strong_side_answered(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    # Three route/auto answers, one from the strong side: the per-mix average an operator reads is 1/3.
    for side in ("strong", "weak", "weak"):
        record = record_for("route/auto")
        record.route = {"router": "length", "score": 2.0, "threshold": 300.0, "side": side}
        emit_request_metrics(record, status=200, latency_ms=5.0)
        flush_metrics()
    emit_request_metrics(record_for("index/x"), status=200, latency_ms=5.0)  # not routed: no value
    flush_metrics()
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    routed = [(b["Mix"], b["RoutedToStrong"]) for b in blobs if "RoutedToStrong" in b]
    assert routed == [("route/auto", [1.0]), ("route/auto", [0.0]), ("route/auto", [0.0])]
