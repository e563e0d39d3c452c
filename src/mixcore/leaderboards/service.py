"""The scheduled indexer run as the Lambda calls it: network fetch, store, and the run's metrics and logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from mixcore.leaderboards.fetch import open_fetcher
from mixcore.leaderboards.indexer import Report, refresh
from mixcore.leaderboards.views import age_hours
from mixcore.observability import emit_source_age, emit_source_failure, logger, metrics
from mixcore.settings import get_settings
from mixcore.store.base import RankingStore


async def run_scheduled(store: RankingStore, sources: list[str] | None = None) -> dict[str, Any]:
    """One indexer run over the network; its counts, also emitted as metrics and logged."""
    mirror = get_settings().sources_mirror
    async with open_fetcher(Path(mirror) / "leaderboards" if mirror else None, sources) as fetcher:
        report = await refresh(store, fetcher, sources)
    return report_run(report, store)


def metric_counts(report: Report) -> dict[str, Any]:
    return {"stored": report.count("stored"), "unchanged": report.count("unchanged"),
            "rejected": report.count("rejected"), "failed_sources": len(report.failed_sources)}


def report_run(report: Report, store: RankingStore) -> dict[str, Any]:
    for outcome in report.outcomes:
        if outcome.action == "rejected":
            logger.warning("ranking rejected", extra={"source": outcome.source, "category": outcome.category,
                                                      "reason": outcome.reason, "origin": outcome.origin})
    for source in report.failed_sources:
        # One structured line per failed source: CloudWatch Logs Insights can filter on source and reasons.
        logger.error("leaderboard source failed", extra={"source": source, "reasons": report.reasons(source)})
        emit_source_failure(source)
    counts = metric_counts(report)
    metrics.add_metric(name="IndexerRejections", unit=MetricUnit.Count, value=counts["rejected"])
    metrics.add_metric(name="IndexerStored", unit=MetricUnit.Count, value=counts["stored"])
    metrics.add_metric(name="IndexerFailedSources", unit=MetricUnit.Count, value=counts["failed_sources"])
    by_source: dict[str, float] = {}
    for ranking in store.list_latest():
        source = str(ranking.get("source"))
        by_source[source] = max(by_source.get(source, 0.0), age_hours(ranking) or 0.0)
    for source, hours in sorted(by_source.items()):
        emit_source_age(source, hours)
    metrics.add_metric(name="LeaderboardMaxAgeHours", unit=MetricUnit.Count, value=max(by_source.values(),
                                                                                       default=0.0))
    logger.info("indexer run", extra=counts)
    return {**counts, "failed": {source: report.reasons(source) for source in report.failed_sources}}
