"""What the gateway adds: the same requests straight to a provider and through Mixcore, whole and streamed.

The provider (the demo providers, answering after 0 or 50 ms) runs in a process of its own. Paths, all
measured in the same run with interleaved rounds:
  provider, sync httpx   the reference: a bare pooled `httpx.Client` call to the provider;
  provider, async httpx  the same call from an `httpx.AsyncClient`, for scale;
  in process (ASGI)      through the chat function's ASGI app, driven as the web adapter drives it (no socket);
  local stack (HTTP)     through the local stack: uvicorn, the local REST API, the authorizer, the same app
                         (server and client share this process, so this row also pays for both);
  route/auto, in process the same app asked for route/auto (the router scores the prompt and picks a side),
                         against the direct model's row: issue 29 asks a routed stream's first token to come as
                         early as a direct model's.
Whole answers are timed to their last byte, streams to the first content token (TTFT). For each path
it prints p50/p99 and what it adds over the reference at the same percentile.
Goals (issue 16), in process: added p50 <= 1 ms and p99 <= 3 ms for whole answers, at 0 and 50 ms
upstream; added TTFT p50 <= 1 ms. It also prints the peak RSS of a process that serves 1,000 requests.
Run: .venv/bin/python bench/overhead.py
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from _common import ProviderProcess, dev_key, gateway_for, local_api, percentiles, ranking_of, serve
from mixcore import container
from mixcore.local.web_adapter import invoke_asgi
from mixcore.mixes.gateway import ChatResult
from mixcore.store.memory import MemoryStore

N = 240
ROUNDS = 6
DELAYS_MS = (0.0, 50.0)
RSS_REQUESTS = 1000
BODY = {"messages": [{"role": "user", "content": "Say something short."}]}
REFERENCE, ASYNC, IN_PROCESS, STACK = ("provider, sync httpx", "provider, async httpx", "in process (ASGI)",
                                       "local stack (HTTP)")
ROUTED = "route/auto, in process"
ROUTED_TTFT_GOAL_MS = 1.0  # "as early as a direct model's": within a millisecond at p50
GOALS = {"whole": {"p50": 1.0, "p99": 3.0}, "ttft": {"p50": 1.0}}


def has_content(data: bytes) -> bool:
    """Whether SSE bytes carry a chunk with non-empty content (a token, not the role or a comment)."""
    for line in data.splitlines():
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                return True
    return False


def is_whole_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def chat_event(payload: dict[str, Any]) -> dict[str, Any]:
    return {"httpMethod": "POST", "path": "/v1/chat/completions", "headers": {"content-type": "application/json"},
            "requestContext": {"authorizer": {"key_id": "key_bench", "principalId": "key_bench"}},
            "body": json.dumps(payload)}


async def in_process(app: Any, payload: dict[str, Any], stream: bool) -> float:
    """ms until the client holds the first content token (stream) or the whole JSON answer.

    The cost records go out after the last byte (the client never waits for them), so the clock stops
    when the answer is complete, not when the app returns."""
    received = bytearray()
    done: float | None = None

    def on_body(piece: bytes) -> None:
        nonlocal done
        received.extend(piece)
        if done is None and (has_content(piece) if stream else is_whole_json(bytes(received))):
            done = time.perf_counter()

    started = time.perf_counter()
    await invoke_asgi(app, chat_event(payload), on_body)
    if done is None:
        raise RuntimeError(f"no answer: {bytes(received[:300])!r}")
    return (done - started) * 1000


def sync_call(client: httpx.Client, url: str, payload: dict[str, Any], stream: bool) -> float:
    started = time.perf_counter()
    if not stream:
        client.post(url, json=payload).raise_for_status()
        return (time.perf_counter() - started) * 1000
    with client.stream("POST", url, json=payload) as response:
        lines = response.iter_lines()
        for line in lines:
            if has_content(line.encode()):
                elapsed = (time.perf_counter() - started) * 1000
                for _ in lines:
                    pass
                return elapsed
    raise RuntimeError("no content in the stream")


async def async_call(client: httpx.AsyncClient, url: str, payload: dict[str, Any], stream: bool) -> float:
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
    for call in paths.values():  # warm-up: pools, validators, caches
        for _ in range(20):
            await call()
    for _ in range(ROUNDS):  # interleaved rounds, so drift hits every path alike
        for name, call in paths.items():
            for _ in range(N // ROUNDS):
                samples[name].append(await call())
    return samples


async def run_delay(delay_ms: float, app: Any, stack_url: str, key: str, provider_url: str) -> dict[str, Any]:
    sync_client = httpx.Client(base_url=provider_url)
    async_client = httpx.AsyncClient(base_url=provider_url)
    stack = httpx.AsyncClient(base_url=stack_url, headers={"authorization": f"Bearer {key}"}, timeout=30)
    results: dict[str, Any] = {}
    for stream in (False, True):
        direct = {"model": "gpt-4o-mini", "stream": stream, **BODY}
        mixed = {"model": "openai/gpt-4o-mini", "stream": stream, **BODY}
        routed = {"model": "route/auto", "stream": stream, **BODY}

        async def reference(b: dict[str, Any] = direct, s: bool = stream) -> float:
            return sync_call(sync_client, "/chat/completions", b, s)

        samples = await measure({
            REFERENCE: reference,
            ASYNC: lambda b=direct, s=stream: async_call(async_client, "/chat/completions", b, s),
            IN_PROCESS: lambda b=mixed, s=stream: in_process(app, b, s),
            STACK: lambda b=mixed, s=stream: async_call(stack, "/v1/chat/completions", b, s),
            ROUTED: lambda b=routed, s=stream: in_process(app, b, s),
        })
        base = percentiles(samples[REFERENCE])
        what = "ttft" if stream else "whole"
        print(f"\nprovider delay {delay_ms:.0f} ms, {'time to first token' if stream else 'whole answer'} "
              f"({N} requests a path, {ROUNDS} interleaved rounds)")
        print(f"{'path':<22} {'p50':>8} {'p99':>8} {'+p50':>8} {'+p99':>8}")
        rows = {}
        for name, values in samples.items():
            p = percentiles(values)
            added = {"p50": p["p50"] - base["p50"], "p99": p["p99"] - base["p99"]}
            rows[name] = {"p50": round(p["p50"], 3), "p99": round(p["p99"], 3),
                          "added_p50": round(added["p50"], 3), "added_p99": round(added["p99"], 3)}
            print(f"{name:<22} {p['p50']:>8.2f} {p['p99']:>8.2f} {added['p50']:>+8.2f} {added['p99']:>+8.2f}")
        results[what] = rows
    sync_client.close()  # noqa: ASYNC212 - the reference is a blocking client, by design
    await async_client.aclose()
    await stack.aclose()
    return results


def wire(provider: ProviderProcess) -> tuple[Any, MemoryStore]:
    store = MemoryStore()
    store.put_ranking(ranking_of(["gpt-4o-mini", "claude-haiku-4-5"]))
    gateway = gateway_for(provider, store, cache_ttl_seconds=60)
    return local_api(gateway, store), store


async def serve_many(app: Any, count: int) -> None:
    for i in range(count):
        await in_process(app, {"model": "openai/gpt-4o-mini", "stream": i % 2 == 1, **BODY}, i % 2 == 1)


def serving_rss() -> float:
    """Peak RSS (MB) of a fresh process that wires the chat app and serves RSS_REQUESTS requests in process."""
    out = subprocess.run([sys.executable, __file__, "--rss-probe"], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def rss_probe() -> None:
    provider = ProviderProcess()
    try:
        api, _ = wire(provider)
        asyncio.run(serve_many(api.asgi_app("ChatFunction"), RSS_REQUESTS))
    finally:
        provider.stop()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class InstantGateway:
    """The real gateway's context, and an answer at once: the app's own path with no upstream call."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def new_context(self, key_id: str | None, request_id: str) -> Any:
        return self.gateway.new_context(key_id, request_id)

    async def complete(self, request: Any, ctx: Any) -> ChatResult:
        return ChatResult(body={"id": ctx.request_id, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}, headers={})


async def cold_penalty(app: Any) -> dict[str, float]:
    """The chat app's own path (an instant answer, no upstream), hot and right after 50 ms idle.

    What runs after an upstream wait runs on a cold CPU (caches, branch predictors, a vCPU the host
    parked): the ratio says how much dearer each microsecond of gateway work is at 50 ms upstream."""
    container.set_gateway(InstantGateway(container.get_gateway()))
    payload = {"model": "openai/gpt-4o-mini", **BODY}
    hot, cold = [], []
    try:
        for _ in range(20):
            await in_process(app, payload, False)
        for _ in range(100):
            hot.append(await in_process(app, payload, False))
            # idle, as while a provider thinks: a blocking sleep on purpose, nothing else may run
            time.sleep(0.05)  # noqa: ASYNC251
            cold.append(await in_process(app, payload, False))
    finally:
        container.set_gateway(container.get_gateway().gateway)
    figures = {"hot_ms": statistics.median(hot), "after_idle_ms": statistics.median(cold)}
    figures["ratio"] = figures["after_idle_ms"] / figures["hot_ms"]
    return figures


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 16, the in-process figure it is judged on, and whether it is met."""
    rows = []
    for delay, by_kind in results.items():
        for kind, goals in GOALS.items():
            for quantile, limit in goals.items():
                value = by_kind[kind][IN_PROCESS][f"added_{quantile}"]
                rows.append({"what": f"{'TTFT' if kind == 'ttft' else 'whole answer'} added {quantile}, "
                                     f"{delay} ms upstream, in process", "value_ms": value, "goal_ms": limit,
                             "met": value <= limit})
        ttft = by_kind["ttft"]
        later = ttft[ROUTED]["p50"] - ttft[IN_PROCESS]["p50"]
        rows.append({"what": f"route/auto TTFT p50 minus a direct model's, {delay} ms upstream, in process",
                     "value_ms": round(later, 3), "goal_ms": ROUTED_TTFT_GOAL_MS, "met": later <= ROUTED_TTFT_GOAL_MS})
    return rows


def main() -> None:
    if "--rss-probe" in sys.argv:
        rss_probe()
        return
    print("milliseconds; + = added over the reference (a bare sync httpx call to the same provider) at the "
          "same percentile, measured in this run")
    results: dict[str, Any] = {}
    for delay in DELAYS_MS:
        provider = ProviderProcess(latency_ms=delay)
        api, store = wire(provider)
        key = dev_key(store)
        server = serve(api)
        try:
            results[f"{delay:.0f}"] = asyncio.run(run_delay(delay, api.asgi_app("ChatFunction"), server.url, key,
                                                            provider.base_url("openai")))
        finally:
            server.stop()
            provider.stop()
    provider = ProviderProcess()
    api, _ = wire(provider)
    penalty = asyncio.run(cold_penalty(api.asgi_app("ChatFunction")))
    provider.stop()
    print(f"\nthe app's own path (instant answer), hot: {penalty['hot_ms']:.3f} ms; after 50 ms idle: "
          f"{penalty['after_idle_ms']:.3f} ms ({penalty['ratio']:.1f}x), the machine's price of work done after a wait")
    rss = serving_rss()
    print(f"\npeak RSS of a process that wired the chat app and served {RSS_REQUESTS} requests: {rss:.0f} MB")
    goals = verdicts(results)
    print()
    for row in goals:
        print(f"{row['what']:<48} {row['value_ms']:>+7.2f} ms  goal <= {row['goal_ms']:.0f} ms: "
              f"{'met' if row['met'] else 'NOT met'}")
    print("RESULT " + json.dumps({"overhead": {"reference": REFERENCE, "results": results, "goals": goals,
                                               "serving_rss_mb": round(rss, 1),
                                               "cold_penalty": {k: round(v, 3) for k, v in penalty.items()}}}))


if __name__ == "__main__":
    main()
