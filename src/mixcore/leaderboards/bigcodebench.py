"""BigCodeBench: `results.json` (full set) and `results-hard.json`, complete and instruct splits.

Every schema version is read: the 2024-06 one (`size` as a string, `*-cal` scores), 2024-07
(`elo_mle`, `lazy`), and 2025 (`date`, `prefill`). Full or hard is in the file's name, as in its URL.
"""

from __future__ import annotations

import json
from typing import Any

from mixcore.leaderboards.models import Document, Entry, FormatError, Ranking, competition_ranks

SOURCE = "bigcodebench"
SITE = "https://bigcode-bench.github.io/{file}"
MIRROR = "https://raw.githubusercontent.com/bigcode-bench/bigcode-bench.github.io/main/{file}"
SPLITS = ("complete", "instruct")


def parse(doc: Document) -> list[Ranking]:
    try:
        data: Any = json.loads(doc.data)
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise FormatError("not an object of models")
    if not all(isinstance(v, dict) and isinstance(v.get("pass@1"), dict) for v in data.values()):
        raise FormatError("models without pass@1 scores")
    hard = "hard" in doc.origin.rsplit("/", 1)[-1].lower()
    dates = [str(v["date"]) for v in data.values() if v.get("date")]
    rankings = []
    for split in SPLITS:
        scored = sorted(((name, float(v["pass@1"][split])) for name, v in data.items()
                         if isinstance(v["pass@1"].get(split), int | float)), key=lambda item: -item[1])
        ranks = competition_ranks([s for _, s in scored])
        entries = []
        for (name, score), rank in zip(scored, ranks, strict=True):
            info = data[name]
            flags = [flag for flag, on in (("moe", info.get("moe")), ("base-model", info.get("prompted") is False),
                                           ("open-data", info.get("open-data") == "Full")) if on]
            entries.append(Entry(rank=rank, name=name, score=score, flags=flags))
        rankings.append(Ranking(source=SOURCE, category=f"hard-{split}" if hard else split, metric="pass@1 (%)",
                                entries=entries, data_date=max(dates) if dates else doc.date_from_origin(),
                                fetched_at=doc.fetched_at, origin=doc.origin, format="bigcodebench-json").with_hash())
    return rankings


def urls() -> list[list[str]]:
    files = ["results.json", "results-hard.json"]
    return [[SITE.format(file=f) for f in files], [MIRROR.format(file=f) for f in files]]
