"""Sanity checks before a parsed ranking may replace the last good one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from mixcore.catalog import normalise_name
from mixcore.leaderboards.models import Ranking

MIN_ENTRIES = 5
MAX_MISSING_SCORES = 0.10
MIN_SHRINK_RATIO = 0.5
TOP_N = 10
MIN_TOP_OVERLAP = 3
COMPARABLE_DAYS = 14


@dataclass
class Verdict:
    action: str  # store | unchanged | reject
    reason: str = ""


def _days_apart(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    try:
        return abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)
    except ValueError:
        return None


def check(new: Ranking, last: dict[str, Any] | None) -> Verdict:
    """Whether `new` should be stored over `last` (the stored latest ranking, or None)."""
    entries = new.entries
    if len(entries) < MIN_ENTRIES:
        return Verdict("reject", f"too few entries ({len(entries)} < {MIN_ENTRIES})")
    if new.scored:
        missing = sum(1 for e in entries if e.score is None)
        if missing > MAX_MISSING_SCORES * len(entries):
            return Verdict("reject", f"{missing} of {len(entries)} entries have no score")
    ranks = [e.rank for e in entries]
    if ranks != sorted(ranks) or ranks[0] < 1:
        return Verdict("reject", "ranks are not in order")
    if len({normalise_name(e.name) for e in entries}) < len(entries) * 0.9:
        return Verdict("reject", "many duplicate model names")
    if last is None:
        return Verdict("store", "first ranking for this category")
    if last.get("content_hash") == new.content_hash:
        return Verdict("unchanged", "identical content")
    # Undated data (the arena-catalog JSON) counts as of the day it was fetched.
    last_date = last.get("data_date") or str(last.get("fetched_at", ""))[:10] or None
    new_date = new.data_date or new.fetched_at[:10]
    if last_date and new_date and new_date < last_date:
        return Verdict("unchanged", f"older data ({new_date}) than stored ({last_date})")
    last_entries = last.get("entries") or []
    if len(entries) < MIN_SHRINK_RATIO * len(last_entries):
        return Verdict("reject", f"shrank from {len(last_entries)} to {len(entries)} entries")
    apart = _days_apart(last_date, new_date)
    if apart is not None and apart <= COMPARABLE_DAYS and len(last_entries) >= TOP_N:
        before = {normalise_name(e["name"]) for e in last_entries[:TOP_N]}
        after = {normalise_name(e.name) for e in entries[:TOP_N]}
        if len(before & after) < MIN_TOP_OVERLAP:
            return Verdict("reject", f"top {TOP_N} changed implausibly ({len(before & after)} in common "
                                     f"with the ranking of {apart} days before)")
    return Verdict("store", "new data")
