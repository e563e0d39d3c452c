"""Concurrent clients against the local stack's REST API (loopback only, bounded in count and time).

Prints requests/s and latency percentiles at 1, 10 and 100 concurrent clients; the provider
answers after a fixed 20 ms. Run: .venv/bin/python bench/load.py
"""

from __future__ import annotations

import asyncio
import time

from _common import demo_server, dev_key, gateway_for, local_api, percentiles, quiet_powertools, serve

quiet_powertools()

import httpx  # noqa: E402

from mixcore.store.memory import MemoryStore  # noqa: E402

SECONDS = 4.0
MAX_REQUESTS = 5000
BODY = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def run(url: str, key: str, clients: int) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=30) as client:
        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop_at and len(latencies) + errors < MAX_REQUESTS:
                started = time.perf_counter()
                response = await client.post("/v1/chat/completions", json=BODY)
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), latencies, errors


def main() -> None:
    demo = demo_server(latency_ms=20)
    store = MemoryStore()
    api = local_api(gateway_for(demo, store), store)
    key = dev_key(store)
    server = serve(api)
    print(f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for clients in (1, 10, 100):
        count, latencies, errors = asyncio.run(run(server.url, key, clients))
        p = percentiles(latencies) if latencies else {"p50": 0, "p95": 0, "p99": 0}
        print(f"{clients:>7} {count:>8} {errors:>6} {count / SECONDS:>7.0f} {p['p50']:>7.1f} {p['p95']:>7.1f} "
              f"{p['p99']:>7.1f}")
    server.stop()
    demo.stop()


if __name__ == "__main__":
    main()
