"""The catalog step of an indexer run: fetch the price tables, keep the sound ones, rebuild the catalog, store
it as a new version when it changed, and map every default category's top 10 again.

A table that fails to download or looks wrong is never used: the last good table of its source is (the
packaged catalog's, until a first one is stored). Without any table the live catalog stays as it is.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from mixcore.catalog import Catalog, normalise_name, packaged_catalog_file
from mixcore.catalog.build import build_from_tables, catalog_version
from mixcore.catalog.live import apply_overrides, live_file, stored_overrides
from mixcore.catalog.models import CatalogFile, Overrides, Price, TableStamp
from mixcore.catalog.price_checks import PriceMove, check_prices
from mixcore.catalog.prices import (
    PRICE_SOURCES,
    PRICE_URLS,
    NotAPriceTable,
    PriceTable,
    check_table,
    content_hash,
    model_count,
    parse_table,
)
from mixcore.store.base import CatalogStore

PRICES = "prices"  # the fetcher's name for the group of price-table URLs
TOP_N = 10


class TableFetcher(Protocol):
    failures: dict[str, list[str]]

    async def fetch_group(self, source: str, urls: list[str]) -> Any: ...


@dataclass
class TableOutcome:
    source: str
    action: str  # stored | unchanged | rejected | failed | missing
    reason: str = ""
    origin: str = ""
    models: int = 0

    def line(self) -> str:
        detail = f" ({self.reason})" if self.reason else ""
        return f"prices/{self.source}: {self.models} models; {self.action}{detail}"


@dataclass
class UnmappedRanked:
    """A model in a default category's top 10 that no index mix can call, and why."""

    source: str
    category: str
    rank: int
    name: str
    reason: str  # not listed | other version | settings | declared | no price | retired
    detail: str


@dataclass
class CatalogReport:
    tables: list[TableOutcome] = field(default_factory=list)
    price_moves: list[PriceMove] = field(default_factory=list)  # confirmed and refused, per model
    version: str = ""
    previous_version: str = ""
    models: int = 0
    unmapped: list[UnmappedRanked] = field(default_factory=list)
    leader_runs: dict[str, int] = field(default_factory=dict)  # "source/category" → refreshes its #1 is unmapped

    @property
    def changed(self) -> bool:
        return self.version != self.previous_version

    def lines(self) -> list[str]:
        lines = [t.line() for t in self.tables]
        lines.extend(f"  price move {m.line()}" for m in self.price_moves)
        lines.append(f"catalog: {self.models} models; version {self.version}"
                     + (f" (was {self.previous_version})" if self.changed else " (unchanged)"))
        for item in self.unmapped:
            lines.append(f"  unmapped {item.source}/{item.category} #{item.rank} {item.name}: {item.reason} "
                         f"({item.detail})")
        return lines


def reason_kind(detail: str) -> str:
    """The short reason an operator acts on, from the builder's explanation."""
    if detail.startswith("not found on any configured provider") or detail == "no catalog entry for this name":
        return "not listed"
    if detail.startswith("the ranked snapshot is not offered"):
        return "other version"
    if detail.startswith("ranked with"):
        return "settings"
    return "declared"


def ranked_names(rankings: Iterable[dict[str, Any]]) -> tuple[list[str], dict[str, list[str]]]:
    """Every name the rankings publish, and display name → the arena keys the same entries carry."""
    names: set[str] = set()
    keys: dict[str, list[str]] = {}
    for ranking in rankings:
        for entry in ranking.get("entries") or []:
            names.add(str(entry["name"]))
            if entry.get("key"):
                names.add(str(entry["key"]))
                if entry["key"] != entry["name"] and entry["key"] not in keys.get(entry["name"], []):
                    keys.setdefault(str(entry["name"]), []).append(str(entry["key"]))
    return sorted(names), keys


def stored_table(source: str, found: tuple[dict[str, Any], bytes] | None) -> PriceTable | None:
    """The last good table of a source as the store keeps it (stamp, gzip JSON), or None."""
    if found is None:
        return None
    stamp, body = found
    return PriceTable(source, json.loads(gzip.decompress(body)), str(stamp.get("origin", "")), stamp.get("fetched_at"))


def choose_tables(store: CatalogStore, fetched: list[PriceTable], current: CatalogFile,
                  outcomes: list[TableOutcome]) -> dict[str, PriceTable]:
    """For each source: the newly fetched table when it passes the checks (stored as the last good one), else
    the last good table stored before."""
    chosen: dict[str, PriceTable] = {}
    newest = {t.source: t for t in fetched}
    for source in PRICE_SOURCES:
        previous = store.get_price_table(source)
        table = newest.get(source)
        if table is not None:
            count = model_count(table)
            last_count = previous[0].get("models") if previous else (
                current.tables[source].models if source in current.tables else None)
            why = check_table(table, last_count) or malformed(table)
            if why is not None:
                outcomes.append(TableOutcome(source, "rejected", why, table.origin, count))
            else:
                digest = content_hash(table.relevant())
                same = previous is not None and previous[0].get("content_hash") == digest
                if not same:
                    stamp = TableStamp(origin=table.origin, models=count, content_hash=digest,
                                       fetched_at=table.fetched_at)
                    store.put_price_table(source, stamp.model_dump(), table.compressed())
                outcomes.append(TableOutcome(source, "unchanged" if same else "stored", origin=table.origin,
                                             models=count))
                chosen[source] = table
        if source not in chosen:
            kept = stored_table(source, previous)
            if kept is not None:
                chosen[source] = kept
            elif table is None and not any(o.source == source for o in outcomes):
                outcomes.append(TableOutcome(source, "missing", "no table fetched"))
    return chosen


def malformed(table: PriceTable) -> str | None:
    """Why a table the catalog cannot be built from is refused (before it could be kept as the last good one)."""
    try:
        build_from_tables({table.source: table}, [], Overrides(), built_on="2000-01-01T00:00:00")
    except Exception as error:  # any shape the builder cannot read: the table is refused, the run goes on
        return f"malformed: {type(error).__name__}: {error}"[:200]
    return None


def checked_prices(built: CatalogFile, current: CatalogFile, tables: dict[str, PriceTable],
                   state: dict[str, Any], operator: Overrides) -> tuple[list[PriceMove], dict[str, Any]]:
    """Every built price checked (catalog/price_checks.py); the anchors and refused moves the state keeps."""
    anchors = {k: Price.model_validate(v) for k, v in (state.get("price_anchors") or {}).items()}
    packaged = {m.id: m for m in packaged_catalog_file().models}
    moves, confirmed = check_prices(built.models, {m.id: m for m in current.models}, anchors, packaged, tables,
                                    operator.prices)
    refused: dict[str, list[dict[str, Any]]] = {}
    for move in moves:
        if not move.confirmed_by:
            refused.setdefault(move.source, []).append(move.stored())
    anchors.update(confirmed)
    return moves, {"price_anchors": {k: p.model_dump(mode="json") for k, p in sorted(anchors.items())},
                   "refused_prices": refused}


def accept_refused(store: CatalogStore, source: str) -> list[dict[str, Any]]:
    """An operator's word that the prices last refused from `source` are right: they become the anchors (the next
    build charges them) and are no longer listed as refused. Returns the moves accepted."""
    head = store.catalog_head()
    state = dict(head.get("state") or {})
    refused = dict(state.get("refused_prices") or {})
    accepted: list[dict[str, Any]] = refused.pop(source, [])
    anchors = dict(state.get("price_anchors") or {})
    anchors.update({move["model"]: move["price"] for move in accepted})
    store.put_catalog_state({**state, "price_anchors": anchors, "refused_prices": refused})
    return accepted


def keep_previous(built: CatalogFile, previous: CatalogFile, complete: bool) -> None:
    """What the previous catalog settled, the new build keeps: each leaderboard name it mapped stays on the same
    model while that model is listed (the packaged catalog mapped display names through metadata files an indexer
    run does not read), and its models stay when a source's table is missing. Names it could not map are judged
    afresh: that is how a new leader becomes callable."""
    models = {m.id: m for m in built.models}
    if not complete:
        for model in previous.models:
            models.setdefault(model.id, model.model_copy(deep=True))
    settled = {normalise_name(a): (a, m.id) for m in previous.models for a in m.aliases
               if a != m.api_model and m.id in models}
    for model in models.values():
        model.aliases = [a for a in model.aliases
                         if a == model.api_model or settled.get(normalise_name(a), ("", model.id))[1] == model.id]
    for alias, model_id in settled.values():
        if alias not in models[model_id].aliases:
            models[model_id].aliases.append(alias)
    built.unmapped = [u for u in built.unmapped if normalise_name(u.name) not in settled]
    built.models = sorted(models.values(), key=lambda m: m.id)


def names_to_map(rankings: Iterable[dict[str, Any]], previous: CatalogFile) -> tuple[list[str], dict[str, list[str]]]:
    """The names the rankings publish now, and every name the previous catalog knew (mapped or not)."""
    names, display_keys = ranked_names(rankings)
    known = {a for m in previous.models for a in m.aliases if a != m.api_model} | {u.name for u in previous.unmapped}
    return sorted(set(names) | known), display_keys


def map_top(catalog: Catalog, rankings: Iterable[dict[str, Any]], categories: Iterable[tuple[str, str]],
            today: str) -> tuple[list[UnmappedRanked], dict[str, bool]]:
    """Every default category's top 10 mapped through the catalog: what is not callable (unmapped, unpriced,
    retired or deprecated by `today`, set aside by an operator), and for each category whether its #1 is among
    them."""
    by_key = {(r["source"], r["category"]): r for r in rankings}
    unmapped: list[UnmappedRanked] = []
    leader_unmapped: dict[str, bool] = {}
    for source, category in sorted(categories):
        ranking = by_key.get((source, category))
        if ranking is None:
            continue
        for position, entry in enumerate((ranking.get("entries") or [])[:TOP_N]):
            model_id = catalog.map_entry(entry)
            model = catalog.get(model_id) if model_id else None
            if model is None:
                detail = catalog.unmapped_reason(str(entry.get("key") or entry["name"]))
                item = UnmappedRanked(source, category, int(entry["rank"]), str(entry["name"]), reason_kind(detail),
                                      detail)
            elif model.price is None:
                item = UnmappedRanked(source, category, int(entry["rank"]), str(entry["name"]), "no price",
                                      f"{model.id}: {model.unpriced or 'no price in any table'}")
            elif (lifecycle := model.lifecycle_reason(today)) is not None:
                item = UnmappedRanked(source, category, int(entry["rank"]), str(entry["name"]), "retired",
                                      f"{model.id}: {lifecycle}")
            else:
                if position == 0:
                    leader_unmapped[f"{source}/{category}"] = False
                continue
            unmapped.append(item)
            if position == 0:
                leader_unmapped[f"{source}/{category}"] = True
    return unmapped, leader_unmapped


async def fetch_tables(fetcher: TableFetcher, fetched_at: str, outcomes: list[TableOutcome]) -> list[PriceTable]:
    documents = await fetcher.fetch_group(PRICES, list(PRICE_URLS.values()))
    # Saved tables are as old as the day their files name (a mirror saves them together), not as old as this
    # run: the builder judges "no longer listed" against the table's own date.
    saved_on = max((d for d in (doc.date_from_origin() for doc in documents) if d), default=None)
    tables: list[PriceTable] = []
    for document in documents:
        try:
            tables.append(parse_table(document.data, document.origin, saved_on or fetched_at))
        except NotAPriceTable as error:
            outcomes.append(TableOutcome("?", "rejected", str(error), document.origin))
    for failure in fetcher.failures.get(PRICES, []):
        url, _, reason = failure.partition(": ")
        source = next((s for s, u in PRICE_URLS.items() if u == url), "?")
        outcomes.append(TableOutcome(source, "failed", reason or failure, url))
    return tables


async def refresh_catalog(store: CatalogStore, fetcher: TableFetcher | None, rankings: list[dict[str, Any]],
                          categories: Iterable[tuple[str, str]], packaged_overrides: Overrides,
                          now: datetime | None = None) -> CatalogReport:
    """One catalog step; `fetcher` None rebuilds from the stored tables only (an offline `mixcore refresh`)."""
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    report = CatalogReport()
    head = store.catalog_head()
    state = head.get("state") or {}
    current = live_file(store, head)
    report.previous_version = report.version = current.version
    fetched = await fetch_tables(fetcher, when, report.tables) if fetcher is not None else []
    tables = choose_tables(store, fetched, current, report.tables)
    catalog_file = current
    kept = {"price_anchors": state.get("price_anchors") or {}, "refused_prices": state.get("refused_prices") or {}}
    if tables:
        names, display_keys = names_to_map(rankings, current)
        built = build_from_tables(tables, names, packaged_overrides, display_keys, built_on=when)
        report.price_moves, kept = checked_prices(built, current, tables, state, stored_overrides(head))
        keep_previous(built, current, complete=len(tables) == len(PRICE_SOURCES))
        built.version = catalog_version(built, when)
        if built.version.split("-", 1)[1] != current.version.split("-", 1)[-1]:
            summary = {"version": built.version, "built_at": when, "models": len(built.models),
                       "tables": {s: t.model_dump() for s, t in built.tables.items()}}
            store.put_catalog_version(built.version, summary, gzip.compress(built.model_dump_json().encode(), 6))
            catalog_file = built
            report.version = built.version
    report.models = len(catalog_file.models)
    live = Catalog.from_file(apply_overrides(catalog_file, stored_overrides(head)))
    report.unmapped, leader_unmapped = map_top(live, rankings, categories, when[:10])
    runs_before = state.get("leader_unmapped_runs") or {}
    report.leader_runs = {key: int(runs_before.get(key, 0)) + 1 if unmapped else 0
                          for key, unmapped in leader_unmapped.items()}
    store.put_catalog_state({"version": report.version, "built_at": when if report.changed else
                             state.get("built_at"), "checked_at": when, "models": report.models,
                             "leader_unmapped_runs": report.leader_runs, **kept})
    return report
