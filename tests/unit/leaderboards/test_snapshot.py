"""The packaged leaderboard snapshot is what the indexer makes of the fixture files, for every default index mix."""

from __future__ import annotations

import asyncio
import json

import pytest

from mixcore.leaderboards.fetch import LocalFetcher
from mixcore.leaderboards.indexer import refresh
from mixcore.leaderboards.snapshot import SNAPSHOT_ENTRIES, all_latest, packaged_rankings, snapshot_of
from mixcore.mixes.definitions import IndexMix, default_mixes
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES, REPO

DEFAULT_CATEGORIES = {(m.source, m.category) for m in default_mixes().values() if isinstance(m, IndexMix)}


def test_the_committed_snapshot_is_rebuilt_from_the_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # origins are recorded as given on the command line: relative to the repository
    store = MemoryStore()
    asyncio.run(refresh(store, LocalFetcher((FIXTURES / "leaderboards").relative_to(REPO))))
    committed = json.loads((REPO / "src/mixcore/leaderboards/data/snapshot.json").read_text())
    built_at = committed["rankings"][0]["fetched_at"]
    rebuilt = snapshot_of(store.list_latest(), DEFAULT_CATEGORIES, built_at)
    assert rebuilt == committed
    assert {(r["source"], r["category"]) for r in committed["rankings"]} == DEFAULT_CATEGORIES
    assert all(len(r["entries"]) <= SNAPSHOT_ENTRIES and r["snapshot"] for r in committed["rankings"])


def test_a_stored_ranking_replaces_the_packaged_one() -> None:
    store = MemoryStore()
    assert len(all_latest(store)) == len(packaged_rankings())
    stored = {**packaged_rankings()[("lmsys", "coding")], "snapshot": False, "fetched_at": "2026-11-23T00:00:00+00:00"}
    store.put_ranking(stored)
    merged = {(r["source"], r["category"]): r for r in all_latest(store)}
    assert merged[("lmsys", "coding")]["snapshot"] is False and len(merged) == len(packaged_rankings())
