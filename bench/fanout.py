"""Fan-out is truly parallel: synthesis wall time over the ideal critical path (goal ≤ 1.10).

Every provider call takes a fixed 300 ms (demo provider latency). A mix of L layers (L-1 proposer
layers, then the aggregator) ideally takes L × 300 ms whatever the number of proposers.
Run: .venv/bin/python bench/fanout.py
"""

from __future__ import annotations

import asyncio
import time

from _common import demo_server, gateway_for  # bench/ is sys.path[0] when a script here runs
from mixcore.schemas import ChatCompletionRequest
from mixcore.store.memory import MemoryStore

LATENCY_S = 0.3
REPEATS = 3


def synthesis(proposers: int, layers: int) -> dict[str, object]:
    members = [{"model": f"local/m{i}"} for i in range(proposers)]
    return {"id": f"synthesis/bench-{proposers}x{layers}", "kind": "synthesis", "min_proposers": proposers,
            "layers": [{"proposers": members}] * (layers - 1) or [{"proposers": members}],
            "aggregator": [{"model": "local/m0"}]}


async def measure(gateway, mix_id: str) -> float:  # type: ignore[no-untyped-def]
    request = ChatCompletionRequest.model_validate({"model": mix_id,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    await gateway.complete(request, gateway.new_context("bench", "chatcmpl-bench"))  # warm the connection pool
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        await gateway.complete(request, gateway.new_context("bench", "chatcmpl-bench"))
        best = min(best, time.perf_counter() - started)
    return best


async def main() -> None:
    demo = demo_server(latency_ms=LATENCY_S * 1000)
    store = MemoryStore()
    shapes = [(p, layers) for p in (3, 6, 12) for layers in (2, 3)]
    for proposers, layers in shapes:
        store.put_mix(synthesis(proposers, layers))
    gateway = gateway_for(demo, store)
    print(f"{'proposers':>9} {'layers':>6} {'calls':>5} {'wall ms':>8} {'ideal ms':>8} {'ratio':>6}")
    worst = 0.0
    for proposers, layers in shapes:
        wall = await measure(gateway, f"synthesis/bench-{proposers}x{layers}")
        ideal = layers * LATENCY_S
        ratio = wall / ideal
        worst = max(worst, ratio)
        calls = proposers * (layers - 1) + 1
        print(f"{proposers:>9} {layers:>6} {calls:>5} {wall * 1000:>8.0f} {ideal * 1000:>8.0f} {ratio:>6.3f}")
    print(f"worst ratio {worst:.3f} (goal <= 1.10); a serial run would be about {12 * 2 + 1} x 300 ms "
          "for 12 proposers and 3 layers")
    demo.stop()


if __name__ == "__main__":
    asyncio.run(main())
