"""Powertools Logger, Tracer and Metrics shared by every function (configured through the environment).

The Tracer is built on first use (`tracer`, a module attribute made lazily): its X-Ray SDK import
costs about 170 ms of every cold start, so a process that does not trace never loads it, and the
chat path asks `tracing_enabled()` before opening a subsegment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.tracing import Tracer

    from mixcore.costs.records import CostRecord

logger = Logger(service="mixcore")
metrics = Metrics(namespace="Mixcore", service="mixcore")


@cache
def get_tracer() -> Tracer:
    from aws_lambda_powertools.tracing import Tracer

    return Tracer(service="mixcore")


def __getattr__(name: str) -> Any:
    if name == "tracer":  # `from mixcore.observability import tracer` in the handlers that decorate with it
        return get_tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tracing_enabled() -> bool:
    """Tracing happens on Lambda (not under SAM local) unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true"):
        return False
    return bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")


# The dimension sets a request's figures are published under. CloudWatch matches a metric by its exact
# dimension set, so the dashboard and alarms in template.yaml name these sets, and a test checks every
# set they use against the EMF lines a local run prints.
ROUTE, MIX, KEY, PROVIDER, SOURCE = "Route", "Mix", "KeyId", "Provider", "Source"


def emit_dimensioned(dimensions: dict[str, str], values: list[tuple[str, str, float]]) -> None:
    """One EMF blob of `values` under `dimensions` plus the service dimension, written at once.

    A blob per dimension set and request, never accumulated: a long-running server prints each
    request's figures as it ends, whatever else is running.
    """
    if _metrics_disabled() or not values:
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics

    blob = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
    for name, value in dimensions.items():
        blob.add_dimension(name=name, value=value)
    for name, unit, amount in values:
        blob.add_metric(name=name, unit=unit, value=amount)
    blob.flush_metrics(raise_on_empty_metrics=False)


def outcome_metric(status: int) -> str:
    return "ServerErrors" if status >= 500 else "ClientErrors" if status >= 400 else "Successes"


def error_count(status: int) -> list[tuple[str, str, float]]:
    """ServerErrors or ClientErrors for a failed request (per route and mix, successes are the rest)."""
    return [(outcome_metric(status), "Count", 1.0)] if status >= 400 else []


def emit_route_metrics(route: str, *, status: int, latency_ms: float) -> None:
    """Requests, outcome and latency of one route (`POST /v1/chat/completions`, `GET /v1/models`…)."""
    emit_dimensioned({ROUTE: route}, [("Requests", "Count", 1), *error_count(status),
                                      ("Latency", "Milliseconds", latency_ms)])


def emit_request_metrics(record: CostRecord | None, *, status: int, latency_ms: float,
                         first_token_ms: float | None = None, cooldown_skips: int = 0) -> None:
    """A chat request's EMF metrics, from its cost record: service-wide (what the alarms watch), and per
    mix, per key and per failing provider (what the dashboard breaks down)."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.add_metric(name=outcome_metric(status), unit=MetricUnit.Count, value=1)
    if first_token_ms is not None:
        metrics.add_metric(name="TimeToFirstToken", unit=MetricUnit.Milliseconds, value=first_token_ms)
    if status == 402:
        metrics.add_metric(name="BudgetBreaches", unit=MetricUnit.Count, value=1)
    if record is None:
        return
    failed = [c for c in record.calls if c.outcome == "error"]
    metrics.add_metric(name="UpstreamErrors", unit=MetricUnit.Count, value=len(failed))
    metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count,
                       value=sum(1 for c in failed if c.role in ("answer", "aggregator")))
    metrics.add_metric(name="ProposerDrops", unit=MetricUnit.Count,
                       value=sum(1 for c in record.calls if c.role == "proposer" and c.outcome != "ok"))
    metrics.add_metric(name="CascadeEscalations", unit=MetricUnit.Count,
                       value=max(0, len({c.layer for c in record.calls if c.role == "answer"}) - 1))
    metrics.add_metric(name="CostUSD", unit=MetricUnit.Count, value=record.cost_usd)
    # A provider billed more than the call's bounds: charged as billed; non-zero means a bound (or a cap) failed.
    metrics.add_metric(name="UsageBeyondBounds", unit=MetricUnit.Count,
                       value=sum(1 for c in record.calls if c.beyond_bounds))
    metrics.add_metric(name="CooldownSkips", unit=MetricUnit.Count, value=cooldown_skips)
    mix = record.mix_id or "direct"
    per_mix = [("Requests", "Count", 1.0), *error_count(status),
               ("Latency", "Milliseconds", latency_ms), ("CostUSD", "Count", record.cost_usd)]
    if first_token_ms is not None:
        per_mix.append(("TimeToFirstToken", "Milliseconds", first_token_ms))
    if record.route and record.route.get("side") in ("strong", "weak"):
        # 1 or 0 per routed request: its average is the share the strong side answered (what calibration sets).
        per_mix.append(("RoutedToStrong", "Count", 1.0 if record.route["side"] == "strong" else 0.0))
    emit_dimensioned({MIX: mix}, per_mix)
    if record.key_id:
        emit_dimensioned({KEY: record.key_id}, [("Requests", "Count", 1), ("CostUSD", "Count", record.cost_usd)])
    for provider in sorted({c.provider for c in failed}):
        emit_dimensioned({PROVIDER: provider},
                         [("UpstreamErrors", "Count", sum(1 for c in failed if c.provider == provider))])
    if record.model:
        logger.info("request served", extra={"mix": mix, "model": record.model, "cost_usd": record.cost_usd,
                                             "request_id": record.request_id, "key_id": record.key_id})
    for call in failed:
        logger.info("upstream call failed", extra={"provider": call.provider, "model": call.model,
                                                   "error": call.error, "layer": call.layer, "role": call.role})


def emit_source_failure(source: str) -> None:
    """IndexerSourceFailures with a Source dimension: which leaderboard failed, graphable and alarmable."""
    emit_dimensioned({SOURCE: source}, [("IndexerSourceFailures", "Count", 1)])


def emit_source_age(source: str, hours: float) -> None:
    """LeaderboardAgeHours per source: the oldest ranking of that source, since it last answered."""
    emit_dimensioned({SOURCE: source}, [("LeaderboardAgeHours", "Count", hours)])


def emit_unmapped(source: str, count: int) -> None:
    """UnmappedTopModels per source: models in its default categories' top 10 that no index mix can call."""
    emit_dimensioned({SOURCE: source}, [("UnmappedTopModels", "Count", count)])


def _metrics_disabled() -> bool:
    # EphemeralMetrics honours POWERTOOLS_METRICS_DISABLED; checking first also skips building the blob.
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true")


def emit_sink_metrics(delivery: dict[str, int] | None) -> None:
    """Counts of one flush (not running totals, which would re-count a failure on every later request)."""
    if not delivery:
        return
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="CostRecordFailures", unit=MetricUnit.Count,
                       value=delivery.get("fallback", 0) + delivery.get("lost_to_log", 0))


def flush_metrics() -> None:
    """Write this request's EMF blob and clear it: a long-running server must not let metrics pile up."""
    if _metrics_disabled():
        metrics.clear_metrics()
        return
    metrics.flush_metrics(raise_on_empty_metrics=False)


@contextlib.asynccontextmanager
async def upstream_subsegment(provider: str, model: str, role: str) -> AsyncIterator[None]:
    """An X-Ray subsegment per upstream call, annotated with provider, model, role and outcome.

    Outside Lambda or with POWERTOOLS_TRACE_DISABLED nothing is traced and the tracer is not loaded.
    """
    if not tracing_enabled():
        yield
        return
    async with get_tracer().provider.in_subsegment_async(f"## upstream {provider}") as subsegment:
        subsegment.put_annotation(key="provider", value=provider)
        subsegment.put_annotation(key="model", value=model)
        subsegment.put_annotation(key="role", value=role)
        try:
            yield
        except Exception as error:
            subsegment.put_annotation(key="outcome", value=getattr(error, "kind", type(error).__name__))
            raise
        subsegment.put_annotation(key="outcome", value="ok")
