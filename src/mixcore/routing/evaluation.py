"""RouteLLM's metrics for a router, computed on replayed evaluation data (no model is called).

A router scores each prompt; sending the top `share` of prompts by score to the strong model gives a
quality between the weak model's and the strong one's. PGR at a share = (quality − weak) / (strong −
weak); APGR is the area under PGR over shares 0 to 1 at RouteLLM's 10 quantile steps (a random router
scores about 0.5); CPT(x) is the smallest share of strong calls whose PGR reaches x (interpolated
between whole prompts).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from mixcore.routing.datasets import Example

APGR_STEPS = 10


def _gains(scores: Sequence[float], examples: Sequence[Example], tiebreak: random.Random) -> list[float]:
    """What each prompt adds over the weak model when sent to the strong one, in the router's order."""
    keys = [(-score, tiebreak.random()) for score in scores]  # ties broken at random, never by file order
    order = sorted(range(len(examples)), key=keys.__getitem__)
    return [examples[i].strong - examples[i].weak for i in order]


def pgr_curve(scores: Sequence[float], examples: Sequence[Example], steps: int, seed: int = 0) -> list[float]:
    """PGR at shares 0, 1/steps, ..., 1."""
    return _curve(_gains(scores, examples, random.Random(seed)), examples, steps)


def _curve(gains: Sequence[float], examples: Sequence[Example], steps: int) -> list[float]:
    span = sum(e.strong for e in examples) - sum(e.weak for e in examples)
    total, taken, curve = 0.0, 0, []
    for step in range(steps + 1):
        upto = step * len(gains) // steps
        total += sum(gains[taken:upto])
        taken = upto
        curve.append(total / span if span else 0.0)
    return curve


def _area(curve: Sequence[float]) -> float:
    return sum((a + b) / 2 for a, b in itertools.pairwise(curve)) / (len(curve) - 1)


def apgr(scores: Sequence[float], examples: Sequence[Example], seed: int = 0) -> float:
    return _area(pgr_curve(scores, examples, APGR_STEPS, seed))


def cpt(scores: Sequence[float], examples: Sequence[Example], target: float, seed: int = 0) -> float:
    """The smallest share of strong calls reaching PGR `target`, interpolated between whole prompts (1.0 when
    only all of them do)."""
    gains = _gains(scores, examples, random.Random(seed))
    span = sum(e.strong for e in examples) - sum(e.weak for e in examples)
    if span <= 0:
        return 0.0
    reached = 0.0
    for count, gain in enumerate(gains, 1):
        before, reached = reached, reached + gain / span
        if reached >= target and reached > before:
            return (count - 1 + (target - before) / (reached - before)) / len(gains)
    return 1.0


@dataclass
class Figures:
    apgr: float
    cpt50: float
    cpt80: float
    low: float | None = None  # a 95% bootstrap interval of APGR
    high: float | None = None


def figures(scores: Sequence[float], examples: Sequence[Example], *, bootstrap: int = 0, seed: int = 0) -> Figures:
    found = Figures(apgr(scores, examples, seed), cpt(scores, examples, 0.5, seed), cpt(scores, examples, 0.8, seed))
    if bootstrap:
        draw = random.Random(seed)
        values = []
        for _ in range(bootstrap):
            picks = [draw.randrange(len(examples)) for _ in examples]
            values.append(apgr([scores[i] for i in picks], [examples[i] for i in picks], seed))
        values.sort()
        found.low, found.high = values[int(0.025 * bootstrap)], values[int(0.975 * bootstrap) - 1]
    return found


def random_band(examples: Sequence[Example], draws: int = 1_000, seed: int = 0) -> tuple[float, float, float]:
    """A random router's APGR: mean and 95% band over `draws` draws."""
    draw = random.Random(seed)
    gains = [e.strong - e.weak for e in examples]
    values = []
    for _ in range(draws):
        draw.shuffle(gains)
        values.append(_area(_curve(gains, examples, APGR_STEPS)))
    values.sort()
    return sum(values) / draws, values[int(0.025 * draws)], values[int(0.975 * draws) - 1]


def oracle_scores(examples: Sequence[Example]) -> list[float]:
    """The router that knows the answers: the strong model exactly where it does better."""
    return [e.strong - e.weak for e in examples]


def length_scores(examples: Sequence[Example]) -> list[float]:
    """The baseline without training: longer prompts to the strong model."""
    return [float(len(e.prompt)) for e in examples]

