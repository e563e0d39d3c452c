"""One indexer run: every source fetched concurrently, parsed, checked, and stored if sound.

One source failing never stops the others. A run is idempotent: identical content stores nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from mixcore.leaderboards import bigcodebench, lmsys, seal
from mixcore.leaderboards.fetch import Fetcher
from mixcore.leaderboards.models import Document, FormatError, NotARanking, Ranking
from mixcore.leaderboards.sanity import check
from mixcore.store.base import RankingStore

SOURCES: dict[str, ModuleType] = {"lmsys": lmsys, "seal": seal, "bigcodebench": bigcodebench}


@dataclass
class CategoryOutcome:
    """What one indexer run did with one category of one source."""

    source: str
    category: str
    action: str  # stored | unchanged | rejected | skipped | failed
    reason: str = ""
    entries: int = 0
    top: list[str] = field(default_factory=list)
    origin: str = ""
    data_date: str | None = None

    def line(self) -> str:
        top = ", ".join(self.top[:3])
        return (f"{self.source}/{self.category}: {self.entries} entries; top 3: {top or '-'}; "
                f"{self.action}{' (' + self.reason + ')' if self.reason else ''}")


@dataclass
class Report:
    outcomes: list[CategoryOutcome] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def reasons(self, source: str) -> list[str]:
        """Why a source gave no ranking: each URL with its HTTP status or error, each file it could not parse,
        each ranking a sanity rule refused."""
        return [f"{o.origin + ': ' if o.origin and o.origin not in o.reason else ''}{o.reason}"
                for o in self.outcomes if o.source == source and o.action in ("failed", "rejected")]


def parse_documents(source: str, documents: list[Document]) -> tuple[list[Ranking], list[CategoryOutcome]]:
    parser: Callable[[Document], list[Ranking]] = SOURCES[source].parse
    rankings: list[Ranking] = []
    outcomes: list[CategoryOutcome] = []
    for document in documents:
        name = document.origin.rsplit("/", 1)[-1]
        try:
            rankings.extend(parser(document))
        except NotARanking as exc:
            outcomes.append(CategoryOutcome(source, name, "skipped", str(exc), origin=document.origin))
        except (FormatError, UnicodeError, RecursionError, ValueError, KeyError, TypeError) as exc:
            outcomes.append(CategoryOutcome(source, name, "rejected", f"unrecognised format: {exc}"[:200],
                                    origin=document.origin))
    return rankings, outcomes


def store_rankings(source: str, rankings: list[Ranking], store: RankingStore) -> list[CategoryOutcome]:
    outcomes = []
    # Oldest data first (undated saved files before any dated one), so the newest ranking of a category ends up as
    # the latest and history keeps all. Fetch time never orders them: every file of a run is read at once.
    for ranking in sorted(rankings, key=lambda r: (r.category, r.as_of() or "", r.origin)):
        last = store.get_latest(source, ranking.category)
        verdict = check(ranking, last)
        action = {"store": "stored", "unchanged": "unchanged", "reject": "rejected"}[verdict.action]
        if action == "stored":
            store.put_ranking({**ranking.model_dump(mode="json"), "last_fetch_at": ranking.fetched_at})
        elif action == "unchanged" and last is not None:
            # The data has not changed since `fetched_at`, but the source answered: that is what freshness means.
            store.put_ranking({**last, "last_fetch_at": ranking.fetched_at})
        outcomes.append(CategoryOutcome(source, ranking.category, action, verdict.reason, len(ranking.entries),
                                ranking.top(3), ranking.origin, ranking.data_date))
    return outcomes


async def refresh_source(source: str, fetcher: Fetcher, store: RankingStore) -> tuple[list[CategoryOutcome], bool]:
    """Try the source's URL groups in order; the first group that yields rankings is used."""
    notes: list[CategoryOutcome] = []
    for group in SOURCES[source].urls():
        try:
            documents = await fetcher.fetch_group(source, group)
        except Exception as exc:
            notes.append(CategoryOutcome(source, "*", "failed", f"fetch: {exc}"[:200]))
            continue
        rankings, parse_notes = parse_documents(source, documents)
        notes.extend(parse_notes)
        if rankings:
            stored = await asyncio.to_thread(store_rankings, source, rankings, store)
            return notes + stored, True
        if documents:
            break  # local files are one group: no use trying the network's fallbacks
    for failure in fetcher.failures.get(source, []):
        url, _, reason = failure.partition(": ")
        notes.append(CategoryOutcome(source, "*", "failed", reason or failure, origin=url if reason else ""))
    if not notes:
        notes.append(CategoryOutcome(source, "*", "failed", "no document found for this source"))
    return notes, False


async def refresh(store: RankingStore, fetcher: Fetcher, sources: list[str] | None = None) -> Report:
    selected = sources or list(SOURCES)
    unknown = [s for s in selected if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {sorted(SOURCES)}")
    results = await asyncio.gather(*(refresh_source(s, fetcher, store) for s in selected),
                                   return_exceptions=True)
    report = Report()
    for source, result in zip(selected, results, strict=True):
        if isinstance(result, BaseException):
            report.outcomes.append(CategoryOutcome(source, "*", "failed", f"{type(result).__name__}: {result}"[:200]))
            report.failed_sources.append(source)
            continue
        outcomes, ok = result
        report.outcomes.extend(outcomes)
        if not ok:
            report.failed_sources.append(source)
    return report
