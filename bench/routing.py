"""Routing evidence and speed: the router's figures on the vendored RouteLLM data under each protocol (beside the
prompt-length baseline, a random router's band and the oracle, all measured in this run), the AutoMix cascade's
figures on GSM8K's recorded answers counting every call's cost (stand-in verifier), index/auto's categories on
labelled prompts, how long index/auto takes to categorise large prompts built to make its rules backtrack, the
router's scoring latency on 1,000- and 20,000-token prompts, and how long the shipped router takes to load."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from mixcore.mixes.definitions import RouteMix
from mixcore.routing.cascade import answered_gsm8k, cascade_table, evaluate_cascade, pair_prices
from mixcore.routing.categories import categorise
from mixcore.routing.category_checks import category_scores, category_table
from mixcore.routing.datasets import from_routellm
from mixcore.routing.experiments import PUBLISHED, evaluate, goal_of, goals_table, table
from mixcore.routing.router import LinearRouter, shipped_router

REPO = Path(__file__).resolve().parents[1]
PAIR = ("openai/gpt-4-1106-preview", "fireworks/accounts/fireworks/models/mixtral-8x7b-instruct")  # RouteLLM's pair
WORDS = ["the", "committee", "reviewed", "the", "quarterly", "figures", "and", "asked", "the", "team", "to",
         "explain", "the", "change", "in", "costs"]


def latency(tokens: int, rounds: int = 300) -> tuple[float, float]:
    prompt = " ".join(WORDS[i % len(WORDS)] for i in range(tokens))
    router = shipped_router()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        router.score(prompt)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.99 * rounds) - 1]


HOSTILE = {"SELECT repeated": "SELECT " * 20_000, "a.b( repeated": "a.b(" * 20_000,
           "function x( repeated": "function x(" * 20_000, "digits": "1 + " * 30_000}


def categorise_ms() -> dict[str, float]:
    """index/auto's categorising of 80–220 KB prompts built to make its rules backtrack, and of plain prose of
    the same size (the reference): milliseconds, median of 5."""
    prompts = {**HOSTILE, "prose (reference)": "The committee met again and asked for the figures. " * 3_000}
    times = {}
    for name, text in prompts.items():
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            categorise([{"role": "user", "content": text}])
            runs.append((time.perf_counter() - started) * 1000)
        times[name] = statistics.median(runs)
    return times


def load_ms(rounds: int = 20) -> float:
    data = (REPO / "src/mixcore/routing/data/router.bin").read_bytes()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        LinearRouter.load(data)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    examples = from_routellm(REPO / "tests/fixtures/routing/routellm")
    rows = evaluate(examples, "ngram", labels=1_500, draws=1_000, bootstrap=200,
                    prices=(10.0, 30.0, 0.5, 0.5), progress=lambda text: print(f"... {text}", file=sys.stderr))
    print("\n".join(table(rows)) + "\n")
    print("\n".join(goals_table(rows)))
    print(f"... the AutoMix cascade on GSM8K's recorded answers, {PAIR[0]} over {PAIR[1]}", file=sys.stderr)
    prices = pair_prices(*PAIR)
    assert prices, "the catalog prices RouteLLM's pair"
    cascade = evaluate_cascade(answered_gsm8k(REPO / "tests/fixtures/routing/routellm/gsm8k"), prices,
                               samples=RouteMix.model_fields["verify_samples"].default)
    print("\n" + "\n".join(cascade_table(cascade, ",".join(PAIR))) + "\n")
    print("\n".join(category_table(category_scores(REPO / "tests/fixtures/routing/categories",
                                                    examples))) + "\n")
    hostile = categorise_ms()
    print("index/auto categorising a large prompt (median of 5; plain prose of the same size is the reference):")
    for name, ms in hostile.items():
        print(f"  {name}: {ms:.1f} ms")
    short, long = latency(1_000), latency(20_000)
    load = load_ms()
    print(f"\nscoring p50/p99: {short[0]:.3f}/{short[1]:.3f} ms at 1k tokens, {long[0]:.3f}/{long[1]:.3f} ms at 20k "
          f"tokens; load {load:.1f} ms; file {(REPO / 'src/mixcore/routing/data/router.bin').stat().st_size / 1e6:.2f}"
          " MB")
    result = {"rows": [{"benchmark": r.benchmark, "protocol": r.protocol, "router": r.router_name,
                        "apgr": r.router.apgr,
                        "cpt50": r.router.cpt50, "length_apgr": r.length.apgr, "random_high": r.random_high,
                        "published": PUBLISHED.get(r.benchmark),
                        "goal": {"what": goal.what, "met": goal.met} if (goal := goal_of(r)) else None}
                       for r in rows],
              "score_ms": {"1k": short, "20k": long}, "load_ms": load, "categorise_ms": hostile,
              "cascade": {"apgr": cascade.apgr, "random_high": cascade.random_high, "samples": cascade.samples,
                          "fixed_spend": cascade.fixed_spend}}
    print("RESULT " + json.dumps({"routing": result}))


if __name__ == "__main__":
    main()
