"""Draw docs/routing.png: how much of the quality gap each router recovers for what it spends, on RouteLLM's data.

    make routing-figure     # installs matplotlib (the `docs` extra), then runs this script (about a minute)

Three panels, each router under the README's protocol (never scored on data it was trained on):
- MMLU, x the share of prompts sent to GPT-4, y PGR (the share of the GPT-4 − Mixtral gap recovered): prompt
  length; the n-gram router trained on GSM8K; the n-gram router with whole subjects held out (4 folds); the
  `groups` router trained on 1,500 in-domain labels (scored on the other 7,477 prompts); a random router (the
  diagonal, in expectation); the oracle.
- The same scores without high_school_mathematics, whose labels measure the answer's format (GPT-4 3%).
- GSM8K, x the spend as a share of sending everything to GPT-4 (every call's cost at the catalog's prices): the
  AutoMix cascade with the stand-in verifier (its fixed spend is the weak answer and its verification on every
  prompt), prompt length and the n-gram router trained on MMLU as prompt routers, a random router (in expectation)
  and the oracle cascade.
The legend carries each curve's APGR as `mixcore route eval` and `mixcore route cascade` compute it; the picture
holds them as PNG text (`APGR`), so a test can tell a picture older than the evaluation.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from mixcore.routing.cascade import (  # noqa: E402
    Curve,
    answered_gsm8k,
    cost_apgr,
    escalation_order,
    pair_prices,
    spend,
    spend_curve,
)
from mixcore.routing.datasets import Example, format_failures, from_routellm  # noqa: E402
from mixcore.routing.evaluation import apgr, length_scores, oracle_scores, pgr_curve  # noqa: E402
from mixcore.routing.experiments import Plan, plans  # noqa: E402
from mixcore.routing.verification import checked_fraction  # noqa: E402

DATA = REPO / "tests/fixtures/routing/routellm"
PAIR = ("openai/gpt-4-1106-preview", "fireworks/accounts/fireworks/models/mixtral-8x7b-instruct")  # RouteLLM's pair
STEPS = 100
SAMPLES = 4  # the route cascade mixes' verify_samples
STYLE = {"length": ("#1f77b4", "-"), "ngram, other benchmark": ("#ff7f0e", "-"),
         "ngram, subjects held out": ("#d62728", "-"), "groups, 1,500 labels": ("#2ca02c", "-"),
         "cascade (stand-in verifier)": ("#9467bd", "-"), "oracle": ("#7f7f7f", ":"),
         "random router": ("#bbbbbb", "--")}


def share_curves(chosen: Sequence[Plan], examples: Sequence[Example]) -> dict[str, tuple[list[float], float]]:
    """Each plan's PGR at STEPS + 1 shares of strong calls, and its APGR, on `examples` (a subset of its own)."""
    keep = {e.id for e in examples}
    found: dict[str, tuple[list[float], float]] = {}
    for plan in chosen:
        rows = [e for e in plan.examples if e.id in keep]
        scores = [plan.scores[e.id] for e in rows]
        name = {"other benchmarks": "ngram, other benchmark", "1500 in-domain labels": "groups, 1,500 labels"}.get(
            plan.protocol, "ngram, subjects held out")
        found[name] = (pgr_curve(scores, rows, STEPS), apgr(scores, rows))
    found["length"] = (pgr_curve(length_scores(examples), examples, STEPS), apgr(length_scores(examples), examples))
    found["oracle"] = (pgr_curve(oracle_scores(examples), examples, STEPS), apgr(oracle_scores(examples), examples))
    return found


def gsm8k_curves(ngram_scores: dict[str, float]) -> dict[str, tuple[Curve, float]]:
    prices = pair_prices(*PAIR)
    assert prices, "the catalog prices RouteLLM's pair"
    items = answered_gsm8k(DATA / "gsm8k")
    costs = [spend(i, prices, SAMPLES) for i in items]
    verified = [checked_fraction(i.example.prompt, i.weak_answer) for i in items]
    draw = random.Random(0)

    def by(score: Sequence[float]) -> list[int]:
        return sorted(range(len(items)), key=lambda i: (-score[i], draw.random()))

    orders = {"cascade (stand-in verifier)": (escalation_order(verified, draw), True),
              "length": (by([len(i.example.prompt) for i in items]), False),
              "ngram, other benchmark": (by([ngram_scores[i.example.id] for i in items]), False),
              "oracle": (by([i.example.strong - i.example.weak for i in items]), True)}
    found = {}
    for name, (order, cascade) in orders.items():
        points = spend_curve(order, items, costs, cascade=cascade)
        found[name] = (points, cost_apgr(points))
    # A random router, in expectation: from all-weak's spend at no gain to all-strong's at the whole gap.
    line = [(sum(c.weak for c in costs) / sum(c.strong for c in costs), 0.0), (1.0, 1.0)]
    found["random router"] = (line, cost_apgr(line))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs/routing.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    examples = from_routellm(DATA)
    mmlu = [e for e in examples if e.benchmark == "mmlu"]
    print("... scoring under each protocol (about a minute)", file=sys.stderr, flush=True)
    scored = plans(examples, "ngram", labels=1_500, progress=lambda text: print(f"... {text}", file=sys.stderr,
                                                                                 flush=True))
    mmlu_plans = [p for p in scored if p.benchmark == "mmlu" and not (p.protocol.endswith("labels")
                                                                        and p.router_name == "ngram")]
    failed = format_failures(mmlu)
    clean = [e for e in mmlu if e.group not in failed]
    gsm8k_ngram = next(p for p in scored if p.benchmark == "gsm8k" and p.protocol == "other benchmarks")

    figure, axes = plt.subplots(1, 3, figsize=(16, 5.2), constrained_layout=True)
    shares = [step / STEPS for step in range(STEPS + 1)]
    panels = ((axes[0], f"MMLU ({len(mmlu):,} prompts)", mmlu),
              (axes[1], f"MMLU without {', '.join(sorted(failed))} ({len(clean):,})", clean))
    areas: dict[str, dict[str, float]] = {}
    for (axis, title, rows), panel in zip(panels, ("mmlu", "mmlu-clean"), strict=True):
        for name, (curve, area) in share_curves(mmlu_plans, rows).items():
            colour, line = STYLE[name]
            axis.plot(shares, curve, line, color=colour, label=f"{name}: APGR {area:.3f}")
            areas.setdefault(panel, {})[name] = round(area, 4)
        axis.plot([0, 1], [0, 1], "--", color="#bbbbbb", label="random: APGR 0.5")
        axis.set(title=title, xlabel="share of prompts sent to GPT-4", xlim=(0, 1), ylim=(-0.1, 1.5))
    axes[0].set_ylabel("share of the GPT-4 − Mixtral gap recovered (PGR)")
    for name, (points, area) in gsm8k_curves(gsm8k_ngram.scores).items():
        colour, line = STYLE[name]
        axes[2].plot([x for x, _ in points], [y for _, y in points], line, color=colour,
                     label=f"{name}: APGR {area:.3f}")
        areas.setdefault("gsm8k", {})[name] = round(area, 4)
    axes[2].set(title="GSM8K (1,307 prompts), every call's cost", xlabel="spend, as a share of all-GPT-4",
                xlim=(0, 1), ylim=(-0.1, 1.5))
    for axis in axes:
        axis.axhline(1.0, color="#dddddd", linewidth=0.8)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right", fontsize=8)
    figure.suptitle("Routers on RouteLLM's data (GPT-4 strong, Mixtral 8x7B weak): each scored only on prompts it "
                    "was not trained on", fontsize=11)
    # The figures drawn, in the picture: a test recomputes some and tells a picture older than the evaluation.
    figure.savefig(args.out, dpi=110, metadata={"Source": "docs/render_routing.py", "APGR": json.dumps(areas)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
