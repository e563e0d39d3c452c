"""What the API shows of stored rankings: entries mapped to catalog ids, ages, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mixcore.catalog import Catalog


def age_hours(ranking: dict[str, Any], now: datetime | None = None) -> float | None:
    """Hours since the source last answered (the last successful fetch, changed or not): what staleness means."""
    try:
        fetched = datetime.fromisoformat(ranking.get("last_fetch_at") or ranking["fetched_at"])
    except (KeyError, ValueError):
        return None
    return round(((now or datetime.now(UTC)) - fetched).total_seconds() / 3600, 2)


def summary(ranking: dict[str, Any]) -> dict[str, Any]:
    return {"source": ranking["source"], "category": ranking["category"], "entries": len(ranking["entries"]),
            "top": [e["name"] for e in ranking["entries"][:3]], "fetched_at": ranking["fetched_at"],
            "last_fetch_at": ranking.get("last_fetch_at") or ranking["fetched_at"],
            "data_date": ranking.get("data_date"), "age_hours": age_hours(ranking), "format": ranking.get("format")}


def detail(ranking: dict[str, Any], catalog: Catalog, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view = {key: ranking.get(key) for key in ("source", "category", "metric", "higher_is_better", "scored",
                                              "fetched_at", "last_fetch_at", "data_date", "origin", "format",
                                              "content_hash", "snapshot")}
    view["age_hours"] = age_hours(ranking)
    view["entries"] = [{"rank": e["rank"], "name": e["name"], "score": e.get("score"), "votes": e.get("votes"),
                        "organization": e.get("organization"), "flags": e.get("flags") or [],
                        "model": catalog.map_entry(e)} for e in ranking["entries"]]
    if history is not None:
        view["history"] = [{"fetched_at": h["fetched_at"], "data_date": h.get("data_date"),
                            "content_hash": h["content_hash"], "entries": len(h["entries"]),
                            "top": [e["name"] for e in h["entries"][:3]]} for h in history]
    return view
