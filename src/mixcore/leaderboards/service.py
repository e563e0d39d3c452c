"""The scheduled indexer run as the Lambda calls it: rankings and price tables fetched and stored, the catalog
rebuilt, and the run's metrics and logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from mixcore.catalog import packaged_overrides
from mixcore.catalog.prices import PRICE_SOURCES
from mixcore.catalog.refresh import PRICES, CatalogReport, refresh_catalog
from mixcore.leaderboards.fetch import open_fetcher
from mixcore.leaderboards.indexer import Report, refresh
from mixcore.leaderboards.snapshot import all_latest
from mixcore.leaderboards.views import age_hours
from mixcore.mixes.definitions import default_index_categories
from mixcore.observability import (
    emit_dimensioned,
    emit_source_age,
    emit_source_failure,
    emit_unmapped,
    logger,
    metrics,
)
from mixcore.settings import get_settings
from mixcore.store.base import RankingStore, Store


async def run_scheduled(store: Store, sources: list[str] | None = None) -> dict[str, Any]:
    """One indexer run over the network (rankings, then the catalog); its counts, also emitted as metrics and
    logged."""
    mirror = get_settings().sources_mirror
    async with open_fetcher(Path(mirror) / "leaderboards" if mirror else None, sources) as fetcher:
        report = await refresh(store, fetcher, sources)
    catalog = await refresh_prices(store, Path(mirror) / "pricing" if mirror else None, fetch=True)
    return report_run(report, store, catalog)


async def refresh_prices(store: Store, saved: Path | None, *, fetch: bool) -> CatalogReport:
    """The catalog step after the rankings: price tables from `saved` (a folder) or the network, or none when
    `fetch` is off; then the remapping of every default category's top 10."""
    rankings = all_latest(store)
    categories, overrides = default_index_categories(), packaged_overrides()
    if not fetch:
        return await refresh_catalog(store, None, rankings, categories, overrides)
    async with open_fetcher(saved) as fetcher:
        return await refresh_catalog(store, fetcher, rankings, categories, overrides)


def metric_counts(report: Report) -> dict[str, Any]:
    return {"stored": report.count("stored"), "unchanged": report.count("unchanged"),
            "rejected": report.count("rejected"), "failed_sources": len(report.failed_sources)}


def report_catalog(catalog: CatalogReport) -> dict[str, Any]:
    """The catalog step's log lines and metrics: each table refused and why, each unmapped top-10 model."""
    for table in catalog.tables:
        if table.action in ("rejected", "failed"):
            logger.warning(f"price table {table.action}", extra={"source": table.source, "reason": table.reason,
                                                                 "origin": table.origin})
            emit_source_failure(table.source if table.source in PRICE_SOURCES else PRICES)
    by_category: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in catalog.unmapped:
        by_category.setdefault((item.source, item.category), []).append(
            {"rank": item.rank, "model": item.name, "reason": item.reason, "detail": item.detail})
    for (source, category), items in sorted(by_category.items()):
        # One line per category: Logs Insights can filter on source, category and the reasons.
        logger.warning("top-10 models not callable", extra={"source": source, "category": category,
                                                            "unmapped": items})
    by_source: dict[str, int] = {}
    for source, _ in default_index_categories():
        by_source[source] = sum(1 for item in catalog.unmapped if item.source == source)
    for source, count in sorted(by_source.items()):
        emit_unmapped(source, count)
    refused = [m for m in catalog.price_moves if not m.confirmed_by]
    for move in catalog.price_moves:
        logger.warning("price move " + ("accepted" if move.confirmed_by else "refused"),
                       extra={"model": move.model, "source": move.source, "rates": move.rates,
                              "confirmed_by": move.confirmed_by})
    metrics.add_metric(name="PriceMovesRefused", unit=MetricUnit.Count, value=len(refused))
    for move in refused:  # the metric names the models: an operator sees which to check and accept
        emit_dimensioned({"Model": move.model}, [("PriceMovesRefused", "Count", 1)])
    runs = max(catalog.leader_runs.values(), default=0)
    metrics.add_metric(name="UnmappedLeaderRuns", unit=MetricUnit.Count, value=runs)
    logger.info("catalog refreshed", extra={"version": catalog.version, "changed": catalog.changed,
                                            "models": catalog.models})
    return {"version": catalog.version, "changed": catalog.changed,
            "tables": {t.source: t.action + (f": {t.reason}" if t.reason else "") for t in catalog.tables},
            "unmapped_leaders": sorted(k for k, n in catalog.leader_runs.items() if n),
            "price_moves_refused": [m.model for m in refused]}


def report_run(report: Report, store: RankingStore, catalog: CatalogReport | None = None) -> dict[str, Any]:
    for outcome in report.outcomes:
        if outcome.action == "rejected":
            logger.warning("ranking rejected", extra={"source": outcome.source, "category": outcome.category,
                                                      "reason": outcome.reason, "origin": outcome.origin})
    for source in report.failed_sources:
        # One structured line per failed source: CloudWatch Logs Insights can filter on source and reasons.
        logger.error("leaderboard source failed", extra={"source": source, "reasons": report.reasons(source)})
        emit_source_failure(source)
    counts = metric_counts(report)
    counts["rejected"] += sum(1 for t in catalog.tables if t.action == "rejected") if catalog else 0
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
    result = {**counts, "failed": {source: report.reasons(source) for source in report.failed_sources}}
    if catalog is not None:
        result["catalog"] = report_catalog(catalog)
    return result
