"""Sanity checks before a parsed ranking may replace the last good one.

A broken or hostile page must not choose an index mix's #1: a ranking is rejected when it is
dated in the future, when a score lies outside what its metric can be, or when a new leader's
score is implausibly far above the previous ranking's. A genuine debut at #1 is accepted: the
leader may rise above the old one by as much as the old top 10 spread (more when the rankings
are further apart in time), twice that when the rest of the ranking kept its scores, which is
how a real debut looks (a poisoned ranking moves the others too). A stored ranking that is itself
dated in the future never blocks a newer fetch; a saved file without a date never replaces dated data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mixcore.catalog import normalise_name
from mixcore.leaderboards.models import Ranking, data_as_of

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
# A debut (a new #1 with the rest of the ranking where it was) may lead the old leader by twice the spread: room
# for a leap like +68 over a 43.6 spread (1.56 spreads), while a forged #1 three spreads up still fails.
DEBUT_SPREADS = 2.0
AGREEMENT_TOLERANCE = 0.25  # of the old top-10 spread: how far another model's score may move and still agree
AGREEING_SHARE = 0.8  # of the models in both rankings' top 20


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
    agrees = rest_agrees(new, last, spread)
    allowed = spread * (1 + (apart or 0) / DRIFT_DAYS) * (DEBUT_SPREADS if agrees else 1)
    rise = (new.entries[0].score - scores[0]) * sign
    if rise > allowed:
        why = "a debut, the rest of the ranking unchanged" if agrees else "the previous top 10 spread"
        return (f"new #1 {new.entries[0].name} scores {new.entries[0].score:g}, {rise:g} past the previous leader's "
                f"{scores[0]:g}; at most {allowed:g} is plausible ({why})")
    return None


def rest_agrees(new: Ranking, last: dict[str, Any], spread: float) -> bool:
    """Whether the models below the new #1 kept their scores (within a quarter of the old top-10 spread, most of
    them): how a real debut looks. A forged or poisoned ranking moves the others too."""
    before = {normalise_name(e["name"]): e.get("score") for e in (last.get("entries") or [])[:2 * TOP_N]}
    pairs = [(before[name], e.score) for e in new.entries[1:2 * TOP_N]
             if (name := normalise_name(e.name)) in before and isinstance(before[name], int | float)
             and e.score is not None]
    if len(pairs) < MIN_TOP_OVERLAP:
        return False
    close = sum(1 for old, now in pairs if abs(now - old) <= AGREEMENT_TOLERANCE * spread)
    return close >= AGREEING_SHARE * len(pairs)


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
    # Live undated data (the arena-catalog JSON) counts as of the day it was fetched; a saved undated file is of no
    # known day, and never replaces dated data.
    last_date = data_as_of(last.get("data_date"), str(last.get("fetched_at", "")), str(last.get("origin", "")))
    new_date = new.as_of()
    if in_future(last_date, now):  # stored before this check existed: it must not block real data forever
        last_date = None
    if last_date and new_date is None:
        return Verdict("unchanged", f"undated data does not replace data of {last_date}")
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
