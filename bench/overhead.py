"""What the gateway adds: the same requests straight to a provider and through Mixcore, whole and streamed.

Paths, each measured in the same run, rounds interleaved:
(a) straight to a local OpenAI-compatible provider (async httpx, pooled): the reference;
(b) through the chat function's ASGI app driven in process as the web adapter would (no socket);
(c) through the local stack (uvicorn → local REST API → authorizer → the same ASGI app).
For whole answers it reports the total time; for `stream: true` the time to the first content
token (TTFT). It prints p50/p99 of each and what Mixcore adds at the same percentile.
Goals (issues 12 and 16): TTFT added in process p50 ≤ 2 ms (≤ 1 ms on the new path), whole answers p50 ≤ 1 ms.
Run: .venv/bin/python bench/overhead.py
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from _common import demo_server, dev_key, gateway_for, local_api, percentiles, quiet_powertools, ranking_of, serve

quiet_powertools()

import httpx  # noqa: E402

from mixcore.local.web_adapter import invoke_asgi  # noqa: E402
from mixcore.store.memory import MemoryStore  # noqa: E402

N = 200
ROUNDS = 4
DELAYS_MS = (0.0, 50.0)
BODY = {"messages": [{"role": "user", "content": "Say something short."}]}


def has_content(data: bytes) -> bool:
    """Whether SSE bytes carry a chunk with non-empty content (a token, not the role or a comment)."""
    for line in data.splitlines():
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                return True
    return False


async def in_process(app: object, payload: dict[str, object], stream: bool) -> float:
    """Drive the ASGI app as the web adapter would; ms to the first content token (stream) or to the last byte."""
    event = {"httpMethod": "POST", "path": "/v1/chat/completions", "headers": {"content-type": "application/json"},
             "requestContext": {"authorizer": {"key_id": "key_bench", "principalId": "key_bench"}},
             "body": json.dumps(payload)}
    first: float | None = None

    def on_body(piece: bytes) -> None:
        nonlocal first
        if first is None and stream and has_content(piece):
            first = time.perf_counter()

    started = time.perf_counter()
    await invoke_asgi(app, event, on_body)  # type: ignore[arg-type]
    return ((first if stream and first else time.perf_counter()) - started) * 1000


async def over_http(client: httpx.AsyncClient, url: str, payload: dict[str, object], stream: bool) -> float:
    started = time.perf_counter()
    if not stream:
        (await client.post(url, json=payload)).raise_for_status()
        return (time.perf_counter() - started) * 1000
    async with client.stream("POST", url, json=payload) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if has_content(line.encode()):
                elapsed = (time.perf_counter() - started) * 1000
                async for _ in lines:
                    pass
                return elapsed
    raise RuntimeError("no content in the stream")


async def measure(paths: dict[str, Callable[[], Awaitable[float]]]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for call in paths.values():  # warm-up
        for _ in range(10):
            await call()
    for _ in range(ROUNDS):  # interleaved rounds, so drift hits every path alike
        for name, call in paths.items():
            for _ in range(N // ROUNDS):
                samples[name].append(await call())
    return samples


async def run_delay(delay_ms: float, app: object, stack_url: str, key: str, demo_url: str) -> None:
    direct = httpx.AsyncClient(base_url=demo_url)
    stack = httpx.AsyncClient(base_url=stack_url, headers={"authorization": f"Bearer {key}"}, timeout=30)
    for stream in (False, True):
        direct_body = {"model": "gpt-4o-mini", "stream": stream, **BODY}
        mixed_body = {"model": "openai/gpt-4o-mini", "stream": stream, **BODY}
        samples = await measure({
            "provider alone": lambda b=direct_body, s=stream: over_http(direct, "/chat/completions", b, s),
            "in process (ASGI)": lambda b=mixed_body, s=stream: in_process(app, b, s),
            "local stack (HTTP)": lambda b=mixed_body, s=stream: over_http(stack, "/v1/chat/completions", b, s),
        })
        reference = percentiles(samples["provider alone"])
        what = "time to first token" if stream else "whole answer"
        print(f"\nprovider delay {delay_ms:.0f} ms, {what} ({N} requests a path, {ROUNDS} interleaved rounds)")
        print(f"{'path':<22} {'p50':>8} {'p99':>8} {'+p50':>8} {'+p99':>8}")
        for name, values in samples.items():
            p = percentiles(values)
            print(f"{name:<22} {p['p50']:>8.2f} {p['p99']:>8.2f} {p['p50'] - reference['p50']:>+8.2f} "
                  f"{p['p99'] - reference['p99']:>+8.2f}")
    await direct.aclose()
    await stack.aclose()


def main() -> None:
    print("milliseconds; + = added over the provider alone at the same percentile (reference measured in this run)")
    for delay in DELAYS_MS:
        demo = demo_server(latency_ms=delay)
        store = MemoryStore()
        store.put_ranking(ranking_of(["gpt-4o-mini", "claude-haiku-4-5"]))
        gateway = gateway_for(demo, store, cache_ttl_seconds=60)
        api = local_api(gateway, store)
        key = dev_key(store)
        server = serve(api)
        asyncio.run(run_delay(delay, api.asgi_app("ChatFunction"), server.url, key, demo.base_url("openai")))
        server.stop()
        demo.stop()


if __name__ == "__main__":
    main()
