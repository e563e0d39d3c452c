"""A cascade's figures on recorded answers, counting every call's cost (the offline evaluation of `route/cascade/*`).

A cascade pays for the weak answer and its verification on every prompt, and for the strong answer on the prompts
it escalates; a prompt router pays for one of the two. So its curve is drawn against cost, not against the share
of strong calls: x is what the policy spends as a share of sending every prompt to the strong model, y is PGR
(routing/evaluation.py). APGR here is the area under PGR over x from 0 to 1, where PGR at x is the best the policy
reaches within that spend (linear between escalations; 0 below the cascade's fixed spend), on a grid of 1,000
steps. CPT(x%) is the spend share at which PGR first reaches x%.

Offline no model can verify, so the stand-in verifier (routing/verification.py `checked_fraction`) scores each
recorded weak answer; the cascade escalates the prompts with the lowest verified fraction first (ties at random).
The verification calls are priced as the real ones would be: the shipped few-shot prompt with the question and
the weak answer as input, and k verdicts of the examples' longest verdict as output.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mixcore.providers.types import estimate_tokens
from mixcore.routing.datasets import Example, from_routellm_gsm8k, gsm8k_answers
from mixcore.routing.verification import VERDICT_CHARS, checked_fraction, verification_prompt

GRID = 1_000
Prices = tuple[float, float, float, float]  # strong in, strong out, weak in, weak out: USD per 1M tokens


@dataclass(frozen=True)
class Answered:
    """A prompt with both models' recorded answers and their quality."""

    example: Example
    weak_answer: str
    strong_answer: str


@dataclass(frozen=True)
class Spend:
    weak: float
    verify: float
    strong: float


def answered_gsm8k(folder: Path) -> list[Answered]:
    """RouteLLM's GSM8K prompts (`gsm8k/` of its evals) with both models' recorded answers."""
    answers = gsm8k_answers(folder)
    return [Answered(e, *answers[e.id]) for e in from_routellm_gsm8k(folder)]


def pair_prices(strong_id: str, weak_id: str) -> Prices | None:
    """The catalog's prices for a strong and a weak model, or None when either has none."""
    from mixcore.catalog import get_catalog

    strong, weak = get_catalog().get(strong_id), get_catalog().get(weak_id)
    if strong is None or weak is None or strong.price is None or weak.price is None:
        return None
    return strong.price.input, strong.price.output, weak.price.input, weak.price.output


def spend(item: Answered, prices: Prices, samples: int) -> Spend:
    strong_in, strong_out, weak_in, weak_out = (p / 1e6 for p in prices)
    prompt = estimate_tokens(item.example.prompt)
    verify_in = estimate_tokens(verification_prompt("", item.example.prompt, item.weak_answer))
    return Spend(weak=prompt * weak_in + estimate_tokens(item.weak_answer) * weak_out,
                 verify=verify_in * weak_in + samples * estimate_tokens("x" * VERDICT_CHARS) * weak_out,
                 strong=prompt * strong_in + estimate_tokens(item.strong_answer) * strong_out)


Curve = list[tuple[float, float]]  # (spend share, PGR) after each escalation


def spend_curve(order: Sequence[int], items: Sequence[Answered], costs: Sequence[Spend], *,
                cascade: bool) -> Curve:
    """The policy's points as prompts are sent to the strong model in `order`: a cascade keeps paying for the weak
    answer and its verification; a router stops paying for the weak answer of what it sends on."""
    everything_strong = sum(c.strong for c in costs)
    weak_total = sum(i.example.weak for i in items)
    gap = sum(i.example.strong for i in items) - weak_total
    spent = sum(c.weak + (c.verify if cascade else 0.0) for c in costs)
    gained = 0.0
    points = [(spent / everything_strong, 0.0)]
    for i in order:
        spent += costs[i].strong - (0.0 if cascade else costs[i].weak)
        gained += items[i].example.strong - items[i].example.weak
        points.append((spent / everything_strong, gained / gap if gap else 0.0))
    return points


def _pgr_at(points: Curve, share: float, xs: list[float]) -> float:
    j = bisect.bisect_right(xs, share) - 1
    if j < 0:
        return 0.0
    if j >= len(points) - 1:
        return points[-1][1]
    (x0, y0), (x1, y1) = points[j], points[j + 1]
    return y0 + (y1 - y0) * (share - x0) / (x1 - x0) if x1 > x0 else y1


def cost_apgr(points: Curve) -> float:
    xs = [x for x, _ in points]
    values = [_pgr_at(points, step / GRID, xs) for step in range(GRID + 1)]
    return (sum(values) - (values[0] + values[-1]) / 2) / GRID


def cost_cpt(points: Curve, target: float) -> float:
    """The smallest spend share whose PGR reaches `target` (1.0 and above: only spending more than all-strong)."""
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if y1 >= target > y0:
            return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
        if y0 >= target:
            return x0
    return float("inf")


@dataclass
class CascadeFigures:
    prompts: int
    samples: int
    apgr: float  # counting every call's cost
    cpt50: float
    cpt80: float
    random_mean: float  # a cascade escalating at random, same costs
    random_low: float
    random_high: float
    oracle: float  # a cascade whose verifier knows which answers are wrong
    length_router: float  # the prompt-length router on the same cost axis
    share_apgr: float  # the verifier's order as a prompt router's (strong-call share axis, cost not counted)
    fixed_spend: float  # weak answers and verification, as a share of all-strong
    escalated_any_failed: float  # the share escalated when any check fails (threshold 1.0)
    pgr_any_failed: float
    usd_per_1k: dict[str, float]  # all weak, all strong, the cascade at threshold 1.0


def escalation_order(verified: Sequence[float], draw: random.Random) -> list[int]:
    """The order a cascade escalates in: the least verified answers first, ties at random."""
    return sorted(range(len(verified)), key=lambda i: (verified[i], draw.random()))


def evaluate_cascade(items: Sequence[Answered], prices: Prices, *, samples: int, draws: int = 200,
                     verifier: Callable[[str, str], float] = checked_fraction, seed: int = 0) -> CascadeFigures:
    from mixcore.routing.evaluation import apgr

    costs = [spend(i, prices, samples) for i in items]
    verified = [verifier(i.example.prompt, i.weak_answer) for i in items]
    draw = random.Random(seed)
    order = escalation_order(verified, draw)
    points = spend_curve(order, items, costs, cascade=True)
    randoms = []
    for _ in range(draws):
        shuffled = list(range(len(items)))
        draw.shuffle(shuffled)
        randoms.append(cost_apgr(spend_curve(shuffled, items, costs, cascade=True)))
    randoms.sort()
    oracle = sorted(range(len(items)), key=lambda i: items[i].example.weak - items[i].example.strong)
    longest = sorted(range(len(items)), key=lambda i: -len(items[i].example.prompt))
    failed = sum(1 for v in verified if v < 1.0)
    scale = 1_000 / len(items)
    return CascadeFigures(
        prompts=len(items), samples=samples, apgr=cost_apgr(points), cpt50=cost_cpt(points, 0.5),
        cpt80=cost_cpt(points, 0.8), random_mean=sum(randoms) / draws, random_low=randoms[int(0.025 * draws)],
        random_high=randoms[int(0.975 * draws) - 1], oracle=cost_apgr(spend_curve(oracle, items, costs, cascade=True)),
        length_router=cost_apgr(spend_curve(longest, items, costs, cascade=False)),
        share_apgr=apgr([-v for v in verified], [i.example for i in items], seed),
        fixed_spend=points[0][0], escalated_any_failed=failed / len(items), pgr_any_failed=points[failed][1],
        usd_per_1k={"all weak": sum(c.weak for c in costs) * scale, "all strong": sum(c.strong for c in costs) * scale,
                    "cascade": (sum(c.weak + c.verify for c in costs) + sum(costs[i].strong for i in order[:failed]))
                    * scale})


def cascade_table(found: CascadeFigures, pair: str) -> list[str]:
    return [
        "| benchmark | verifier (stand-in) | prompts | APGR, every call's cost (random band) | CPT50 | CPT80 | "
        "oracle | length router, same axis | verifier as a router (share axis) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| gsm8k | arithmetic and form checks of the weak answer | {found.prompts} | {found.apgr:.3f} "
        f"({found.random_low:.3f}–{found.random_high:.3f}) | {found.cpt50:.1%} | {found.cpt80:.1%} | "
        f"{found.oracle:.3f} | {found.length_router:.3f} | {found.share_apgr:.3f} |",
        "",
        f"Calls: {found.prompts} weak answers, {found.prompts} verification calls (n={found.samples} verdicts each), "
        f"and the strong calls of what is escalated. The weak answers and verification cost "
        f"{found.fixed_spend:.1%} of sending everything to the strong model. Escalating every answer that fails a "
        f"check sends {found.escalated_any_failed:.1%} of prompts on and recovers PGR {found.pgr_any_failed:.1%}, "
        f"for ${found.usd_per_1k['cascade']:.2f} per 1,000 prompts (all weak ${found.usd_per_1k['all weak']:.2f}, "
        f"all strong ${found.usd_per_1k['all strong']:.2f}; {pair}, 4 characters a token).",
    ]
