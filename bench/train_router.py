"""Trains the shipped router (src/mixcore/routing/data/router.bin) on all of the vendored RouteLLM data, and writes
each router's score quantiles (data/thresholds.json), which turn a strong share into a threshold.

The shipped file is for routing real traffic; every figure `mixcore route eval` and bench/routing.py report
comes from routers trained afresh on data that excludes what they score (routing/experiments.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mixcore.routing.datasets import from_routellm
from mixcore.routing.router import LinearRouter, train
from mixcore.routing.thresholds import quantile_table

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    started = time.perf_counter()
    examples = from_routellm(REPO / "tests/fixtures/routing/routellm")
    router = train(examples)
    target = REPO / "src/mixcore/routing/data/router.bin"
    router.save(target)
    shipped = LinearRouter.load(target.read_bytes())  # the float32 weights, as they are served
    prompts = [e.prompt for e in examples]
    tables = {"length": quantile_table([float(len(p)) for p in prompts]),
              "ngram": quantile_table(shipped.scores(prompts))}
    (target.parent / "thresholds.json").write_text(json.dumps(
        {"about": "each router's score percentiles (0..100) over the vendored RouteLLM prompts "
                  "(bench/train_router.py); a strong share s routes prompts scoring above the (1 - s) quantile",
         "quantiles": {name: [round(v, 6) for v in table] for name, table in tables.items()}}, indent=1) + "\n")
    print(f"trained on {len(examples)} prompts in {time.perf_counter() - started:.1f} s; wrote {target} "
          f"({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
