"""Trains the shipped router (src/mixcore/routing/data/router.bin) on all of the vendored RouteLLM data.

The shipped file is for routing real traffic; every figure `mixcore route eval` and bench/routing.py report
comes from routers trained afresh on data that excludes what they score (routing/experiments.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from mixcore.routing.datasets import from_routellm
from mixcore.routing.router import train

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    started = time.perf_counter()
    examples = from_routellm(REPO / "tests/fixtures/routing/routellm")
    router = train(examples)
    target = REPO / "src/mixcore/routing/data/router.bin"
    router.save(target)
    print(f"trained on {len(examples)} prompts in {time.perf_counter() - started:.1f} s; wrote {target} "
          f"({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
