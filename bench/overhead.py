"""What the gateway adds: the same requests directly to a provider and through Mixcore.

(a) straight to a local OpenAI-compatible provider with a fixed 20 ms delay (httpx, pooled);
(b) through the warm ChatFunction handler invoked in process (event in, response out);
(c) through the local HTTP stack (HTTP server → authorizer → handler).
Prints p50/p95/p99 of each and the milliseconds Mixcore adds. Goal: in-process p50 ≤ 1 ms, p99 ≤ 3 ms.
Run: .venv/bin/python bench/overhead.py
"""

from __future__ import annotations

import json
import time

from _common import dev_key, gateway_for, local_api, percentiles, quiet_powertools, ranking_of

quiet_powertools()

import httpx  # noqa: E402

from mixcore.local.http_api import LambdaContext  # noqa: E402
from mixcore.store.memory import MemoryStore  # noqa: E402

N = 300
DELAY_MS = 20.0
BODY = {"messages": [{"role": "user", "content": "Say something short."}]}


def event(model: str) -> dict[str, object]:
    path = "/v1/chat/completions"
    return {"version": "2.0", "routeKey": f"POST {path}", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json"}, "isBase64Encoded": False,
            "requestContext": {"http": {"method": "POST", "path": path, "sourceIp": "127.0.0.1"},
                               "requestId": "bench", "routeKey": f"POST {path}", "stage": "$default",
                               "authorizer": {"lambda": {"key_id": "key_bench"}}},
            "body": json.dumps({"model": model, **BODY})}


def timed(call: object, n: int = N) -> list[float]:
    samples = []
    for _ in range(20):
        call()  # type: ignore[operator]
    for _ in range(n):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    from _common import demo_server

    demo = demo_server(latency_ms=DELAY_MS)
    store = MemoryStore()
    store.put_ranking(ranking_of(["gpt-4o-mini", "claude-haiku-4-5"]))
    gateway = gateway_for(demo, store, cache_ttl_seconds=60)
    api = local_api(gateway, store)
    key = dev_key(store)
    handler = api.handler("ChatFunction")
    direct_client = httpx.Client()
    stack = api_server = None
    import threading

    from mixcore.local.http_api import LocalHttpServer

    api_server = LocalHttpServer(api, port=0)
    threading.Thread(target=api_server.serve_forever, daemon=True).start()
    stack = httpx.Client(base_url=api_server.url, headers={"authorization": f"Bearer {key}"})

    def direct() -> None:
        direct_client.post(f"{demo.base_url('openai')}/chat/completions",
                           json={"model": "gpt-4o-mini", **BODY}).raise_for_status()

    rows = []
    baseline = percentiles(timed(direct))
    rows.append(("direct to provider", baseline, None))
    for label, model in (("direct model", "openai/gpt-4o-mini"), ("index mix", "index/lmsys-coding")):
        in_process = percentiles(timed(lambda m=model: handler(event(m), LambdaContext("ChatFunction", 30))))
        rows.append((f"in-process handler, {label}", in_process, baseline))
        through_http = percentiles(timed(lambda m=model: stack.post("/v1/chat/completions",
                                                                      json={"model": m, **BODY}).raise_for_status()))
        rows.append((f"local HTTP stack, {label}", through_http, baseline))
    print(f"{N} sequential requests each; provider delay {DELAY_MS:.0f} ms")
    print(f"{'path':<36} {'p50':>7} {'p95':>7} {'p99':>7} {'+p50':>7} {'+p95':>7} {'+p99':>7} {'ratio':>6}")
    for label, p, base in rows:
        added = [p[q] - base[q] for q in ("p50", "p95", "p99")] if base else [0.0, 0.0, 0.0]
        ratio = p["p50"] / base["p50"] if base else 1.0
        print(f"{label:<36} {p['p50']:>7.2f} {p['p95']:>7.2f} {p['p99']:>7.2f} "
              f"{added[0]:>+7.2f} {added[1]:>+7.2f} {added[2]:>+7.2f} {ratio:>6.3f}")
    print("(milliseconds; + = added over the direct call at the same percentile)")
    api_server.shutdown()
    demo.stop()


if __name__ == "__main__":
    main()
