"""Powertools Logger, Tracer and Metrics shared by every function (configured through the environment)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics, Tracer

if TYPE_CHECKING:
    from mixcore.costs.records import CostRecord

logger = Logger(service="mixcore")
tracer = Tracer(service="mixcore")
metrics = Metrics(namespace="Mixcore", service="mixcore")


def emit_request_metrics(record: CostRecord | None, *, status: int, latency_ms: float) -> None:
    """The request's EMF metrics, from its cost record (one request per invocation, so one dimension set)."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.add_metric(name="ServerErrors" if status >= 500 else "ClientErrors" if status >= 400 else "Successes",
                       unit=MetricUnit.Count, value=1)
    if status == 402:
        metrics.add_metric(name="BudgetBreaches", unit=MetricUnit.Count, value=1)
    if record is None:
        return
    # Per-mix figures get their own dimension set; the rest stay on the service dimension that alarms use.
    mix = record.mix_id or "direct"
    if not _metrics_disabled():
        from aws_lambda_powertools.metrics import single_metric

        for name, unit, value in (("MixLatency", MetricUnit.Milliseconds, latency_ms),
                                  ("MixCostUSD", MetricUnit.Count, record.cost_usd)):
            with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace) as metric:
                metric.add_dimension(name="Mix", value=mix)
                if record.model:
                    metric.add_metadata(key="model", value=record.model)
    failed = [c for c in record.calls if c.outcome == "error"]
    metrics.add_metric(name="UpstreamErrors", unit=MetricUnit.Count, value=len(failed))
    metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count,
                       value=sum(1 for c in failed if c.role in ("answer", "aggregator")))
    metrics.add_metric(name="ProposerDrops", unit=MetricUnit.Count,
                       value=sum(1 for c in record.calls if c.role == "proposer" and c.outcome != "ok"))
    metrics.add_metric(name="CascadeEscalations", unit=MetricUnit.Count,
                       value=max(0, len({c.layer for c in record.calls if c.role == "answer"}) - 1))
    metrics.add_metric(name="CostUSD", unit=MetricUnit.Count, value=record.cost_usd)
    if record.model:
        logger.info("request served", extra={"mix": mix, "model": record.model, "cost_usd": record.cost_usd,
                                             "request_id": record.request_id, "key_id": record.key_id})
    for call in failed:
        logger.info("upstream call failed", extra={"provider": call.provider, "model": call.model,
                                                   "error": call.error, "layer": call.layer, "role": call.role})


def emit_source_failure(source: str) -> None:
    """IndexerSourceFailures with a Source dimension: which leaderboard failed, graphable and alarmable."""
    if _metrics_disabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="IndexerSourceFailures", unit=MetricUnit.Count, value=1,
                       namespace=metrics.namespace) as metric:
        metric.add_dimension(name="Source", value=source)


def _metrics_disabled() -> bool:
    # single_metric does not honour POWERTOOLS_METRICS_DISABLED (the Metrics instance does).
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

    Powertools turns the recorder off outside Lambda or with POWERTOOLS_TRACE_DISABLED, and then
    this is a dummy subsegment.
    """
    async with tracer.provider.in_subsegment_async(f"## upstream {provider}") as subsegment:
        subsegment.put_annotation(key="provider", value=provider)
        subsegment.put_annotation(key="model", value=model)
        subsegment.put_annotation(key="role", value=role)
        try:
            yield
        except Exception as error:
            subsegment.put_annotation(key="outcome", value=getattr(error, "kind", type(error).__name__))
            raise
        subsegment.put_annotation(key="outcome", value="ok")
