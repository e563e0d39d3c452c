"""The leaderboards shipped in the package: what index mixes answer from until the first refresh.

A fresh stack (the local one, or a new AWS deployment whose table is empty) would otherwise answer
every index mix with 503 until the indexer has run. The snapshot holds the rankings of the default
index mixes' categories, built by the indexer itself from the real files in tests/fixtures/leaderboards
(`mixcore refresh --snapshot`); a stored ranking, once the indexer has written one, always wins.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from mixcore.store.base import RankingStore

SNAPSHOT_FILE = "data/snapshot.json"
# Each ranking's top this many: far past where an index mix stops (its top_n callable models, after skips).
SNAPSHOT_ENTRIES = 50


@lru_cache(maxsize=1)
def packaged_rankings() -> dict[tuple[str, str], dict[str, Any]]:
    text = resources.files("mixcore.leaderboards").joinpath(SNAPSHOT_FILE).read_text()
    return {(r["source"], r["category"]): r for r in json.loads(text)["rankings"]}


def latest_ranking(store: RankingStore, source: str, category: str) -> dict[str, Any] | None:
    """The stored ranking, else the packaged one (marked `snapshot`), else None."""
    stored = store.get_latest(source, category)
    if stored is not None:
        return stored
    packaged = packaged_rankings().get((source, category))
    return json.loads(json.dumps(packaged)) if packaged is not None else None


def all_latest(store: RankingStore) -> list[dict[str, Any]]:
    """Every stored ranking, plus the packaged ones of categories the indexer has not stored yet."""
    stored = {(r["source"], r["category"]): r for r in store.list_latest()}
    merged = {**packaged_rankings(), **stored}
    return [merged[key] for key in sorted(merged)]


def snapshot_of(rankings: list[dict[str, Any]], categories: set[tuple[str, str]], built_at: str) -> dict[str, Any]:
    """The package file for these rankings: only the given categories, each marked as the shipped snapshot."""
    chosen = []
    for ranking in sorted(rankings, key=lambda r: (r["source"], r["category"])):
        if (ranking["source"], ranking["category"]) in categories:
            chosen.append({**ranking, "entries": ranking["entries"][:SNAPSHOT_ENTRIES], "fetched_at": built_at,
                           "last_fetch_at": built_at, "snapshot": True})
    return {"schema_version": 1, "note": "built by `mixcore refresh --from tests/fixtures/leaderboards --snapshot`",
            "rankings": chosen}
