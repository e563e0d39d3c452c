"""Sanity checks before a parsed ranking may replace the last good one.

A broken or hostile page must not choose an index mix's #1: a ranking is rejected when it is
dated in the future, when a score lies outside what its metric can be, or when a new leader's
score is implausibly far above the previous ranking's. A genuine debut at #1 is accepted: the
leader may rise above the old one by as much as the old top 10 spread (more when the rankings
are further apart in time). A stored ranking that is itself dated in the future never blocks a
newer fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mixcore.catalog import normalise_name
from mixcore.leaderboards.models import Ranking

MIN_ENTRIES = 5
MAX_MISSING_SCORES = 0.10
MIN_SHRINK_RATIO = 0.5
TOP_N = 10
MIN_TOP_OVERLAP = 3
COMPARABLE_DAYS = 14
CLOCK_SKEW = timedelta(days=1)
# What each metric can be, from the sources' own definitions (Arena/Elo scores sit around 800-1,600).
PLAUSIBLE_SCORES: dict[str, tuple[float, float]] = {
    "arena score": (0.0, 3000.0), "elo": (0.0, 3000.0), "score": (0.0, 3000.0),
    "pass@1 (%)": (0.0, 100.0), "number of violations": (0.0, 100_000.0)}
# A ranking further apart in time than this many days may move its leader by one more top-10 spread.
DRIFT_DAYS = 30


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


def in_future(day: str | None, now: datetime | None = None) -> bool:
    if not day:
        return False
    try:
        when = datetime.fromisoformat(day[:10]).replace(tzinfo=UTC)
    except ValueError:
        return False
    return when > (now or datetime.now(UTC)) + CLOCK_SKEW


def implausible_leader(new: Ranking, last: dict[str, Any], apart: int | None) -> str | None:
    """Why the new #1's score cannot be believed against the previous ranking, or None."""
    if last.get("metric", new.metric) != new.metric or not new.entries or new.entries[0].score is None:
        return None
    previous = [e.get("score") for e in (last.get("entries") or [])[:TOP_N]]
    scores = [s for s in previous if isinstance(s, int | float)]
    if len(scores) < TOP_N or normalise_name(new.entries[0].name) == normalise_name(last["entries"][0]["name"]):
        return None
    sign = 1 if new.higher_is_better else -1
    spread = abs(scores[0] - scores[-1])
    allowed = spread * (1 + (apart or 0) / DRIFT_DAYS)
    rise = (new.entries[0].score - scores[0]) * sign
    if rise > allowed:
        return (f"new #1 {new.entries[0].name} scores {new.entries[0].score:g}, {rise:g} past the previous leader's "
                f"{scores[0]:g}; at most {allowed:g} is plausible (the previous top {TOP_N} spread)")
    return None


def check(new: Ranking, last: dict[str, Any] | None, now: datetime | None = None) -> Verdict:
    """Whether `new` should be stored over `last` (the stored latest ranking, or None)."""
    entries = new.entries
    if in_future(new.data_date, now) or in_future(new.fetched_at, now):
        return Verdict("reject", f"dated in the future ({new.data_date or new.fetched_at[:10]})")
    low, high = PLAUSIBLE_SCORES.get(new.metric.lower(), (float("-inf"), float("inf")))
    outside = [e for e in entries if e.score is not None and not low <= e.score <= high]
    if outside:
        return Verdict("reject", f"{len(outside)} score(s) outside the plausible {low:g}..{high:g} for "
                                 f"{new.metric!r} (e.g. {outside[0].name}: {outside[0].score:g})")
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
    if in_future(last_date, now):  # stored before this check existed: it must not block real data forever
        last_date = None
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
    leader = implausible_leader(new, last, apart)
    if leader is not None:
        return Verdict("reject", leader)
    return Verdict("store", "new data")
