"""What a strong share means for a router: the score above which that share of prompts goes to the strong side.

`data/thresholds.json` holds each router's score quantiles over the vendored evaluation prompts (written by
bench/train_router.py); `mixcore route calibrate` fits the same table to a key's own logged scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

QUANTILES = 100


def quantile_table(scores: Sequence[float]) -> list[float]:
    """The 0th to 100th percentiles of `scores`, interpolated between neighbours (as numpy's default does)."""
    ordered = sorted(scores)
    if not ordered:
        raise ValueError("no scores to fit a quantile table to")
    table = []
    for q in range(QUANTILES + 1):
        position = q * (len(ordered) - 1) / QUANTILES
        low = math.floor(position)
        high = min(len(ordered) - 1, low + 1)
        table.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return table


def threshold_for(table: Sequence[float], share: float) -> float:
    """The score a prompt must reach to go to the strong side, so that `share` of prompts like the table's do."""
    if share <= 0:
        return math.inf
    if share >= 1:
        return -math.inf
    position = (1 - share) * QUANTILES
    low = math.floor(position)
    high = min(QUANTILES, low + 1)
    return table[low] + (table[high] - table[low]) * (position - low)


@lru_cache(maxsize=1)
def shipped_tables() -> dict[str, list[float]]:
    text = resources.files("mixcore.routing").joinpath("data/thresholds.json").read_text()
    return {name: [float(v) for v in values] for name, values in json.loads(text)["quantiles"].items()}
