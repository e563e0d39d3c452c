"""The scheduled indexer run as the Lambda calls it: network fetch, store, a summary for metrics."""

from __future__ import annotations

from typing import Any

from mixcore.leaderboards.fetch import HttpFetcher
from mixcore.leaderboards.indexer import Report, refresh
from mixcore.store.base import RankingStore


async def run_scheduled(store: RankingStore, sources: list[str] | None = None) -> Report:
    fetcher = HttpFetcher()
    try:
        return await refresh(store, fetcher, sources)
    finally:
        await fetcher.aclose()


def metric_counts(report: Report) -> dict[str, Any]:
    return {"stored": report.count("stored"), "unchanged": report.count("unchanged"),
            "rejected": report.count("rejected"), "failed_sources": len(report.failed_sources)}
