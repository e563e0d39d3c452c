"""Cold start: import time and peak RSS of each function module in a fresh interpreter, beside `import boto3`.

The chat function's init is its ASGI app plus the uvicorn server that run.sh starts.
Goal: chat function init ≤ 1.5 × `import boto3` + a client, measured in the same run; every function
under 128 MB RSS after one request.
Run: .venv/bin/python bench/coldstart.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 5
ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
       "POWERTOOLS_LOG_LEVEL": "WARNING", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}

PROBE = r'''
import importlib.util, json, resource, sys, time
started = time.perf_counter()
target = sys.argv[1]
if target == "boto3":
    import boto3
    boto3.client("dynamodb")
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    if hasattr(module, "app") and not hasattr(module, "lambda_handler"):
        import uvicorn.main, uvicorn.protocols.http.h11_impl  # the server run.sh starts is part of the init
imported = time.perf_counter() - started
after_request = None
if len(sys.argv) > 2:
    sys.path.insert(0, sys.argv[2])
    from _common import demo_server, gateway_for, ranking_of
    from mixcore import container
    from mixcore.store.memory import MemoryStore
    import asyncio
    from mixcore.local.web_adapter import invoke_asgi
    demo = demo_server()
    store = MemoryStore()
    container.set_store(store); container.set_gateway(gateway_for(demo, store))
    event = {"httpMethod": "POST", "path": "/v1/chat/completions", "headers": {"content-type": "application/json"},
             "requestContext": {"authorizer": {"key_id": "key_x"}},
             "body": json.dumps({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})}
    assert asyncio.run(invoke_asgi(module.app, event))["statusCode"] == 200
    after_request = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"import_s": imported, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_after_request_mb": after_request}))
'''


def probe(*args: str) -> dict[str, float]:
    import os

    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True,
                         env={**os.environ, **ENV}, cwd=REPO)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    targets = {"boto3 alone": ["boto3"]}
    for name in ("chat", "catalog", "authorizer", "indexer"):
        targets[f"{name} handler"] = [str(REPO / "functions" / name / "app.py")]
    targets["chat handler + 1 request"] = [str(REPO / "functions" / "chat" / "app.py"), str(REPO / "bench")]
    results = {}
    print(f"{'module':<26} {'import ms (median of 5)':>24} {'peak RSS MB':>12}")
    for label, args in targets.items():
        runs = [probe(*args) for _ in range(RUNS)]
        import_ms = statistics.median(r["import_s"] for r in runs) * 1000
        rss = max((r["rss_after_request_mb"] or r["rss_mb"]) for r in runs)
        results[label] = import_ms
        print(f"{label:<26} {import_ms:>24.0f} {rss:>12.1f}")
    print(f"chat handler import / boto3 alone = {results['chat handler'] / results['boto3 alone']:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
