"""Cold start: each function's init in a fresh interpreter that sees only what Lambda would, beside `import boto3`.

The interpreter runs with `-S` (no site-packages) on the layer exactly as `sam build` makes it (src/Makefile's
build-MixcoreLayer into .bench/layer, rebuilt when the requirements, the Makefile or mixcore change: Lambda's
wheels, bytecode compiled by the build) and with the functions' environment from template.yaml, so dev tools
in the venv (rich, pygments, pytest…) cannot make an import look slower or faster than on Lambda.
The chat function's init is what run.sh does before the adapter's readiness check passes: the app
imported and a uvicorn server configured for it.
Reference: bare `import boto3` in the same kind of interpreter, measured in the same rounds, which are
interleaved (every target once per round), so machine noise lands on reference and targets alike.
Goal (issue 16): chat init ≤ 1.5 × `import boto3`.
Run: .venv/bin/python bench/coldstart.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYER = REPO / ".bench" / "layer"
ENV = {"POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "WARNING",
       "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
       # as on Lambda: tracing is on, and the tracer is still not loaded before the first traced call
       "LAMBDA_TASK_ROOT": "/var/task"}
FUNCTIONS = {"chat": "ChatFunction", "catalog": "CatalogFunction", "authorizer": "AuthorizerFunction",
             "indexer": "IndexerFunction"}

PROBE = r'''
import sys
sys.path[:0] = sys.argv[2].split(":")
import importlib.util, json, resource, time
started = time.perf_counter()
target = sys.argv[1]
if target == "boto3":
    import boto3
elif target == "boto3+client":
    import boto3
    boto3.client("dynamodb")
elif target == "stack":  # what any app on this stack pays: the chat function's libraries and a first model
    import asyncio, httpx, httpx_sse, uvicorn, uvicorn.config, uvicorn.server, uvicorn.protocols.http.h11_impl
    import starlette.applications, starlette.requests, starlette.responses, starlette.routing
    import aws_lambda_powertools.logging, aws_lambda_powertools.metrics
    from pydantic import BaseModel, ConfigDict
    class First(BaseModel):
        model_config = ConfigDict(defer_build=True)
        name: str = ""
elif target == "xray":
    from aws_lambda_powertools.tracing import Tracer
    Tracer(service="mixcore")
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    if hasattr(module, "app") and not hasattr(module, "lambda_handler"):
        import uvicorn  # what run.sh starts: the server, configured for the app, ready to bind
        config = uvicorn.Config(module.app, lifespan="off", access_log=False, loop="asyncio", http="h11",
                                ws="none", interface="asgi3")  # as run.sh names them
        config.load()
        uvicorn.Server(config)
print(json.dumps({"init_s": time.perf_counter() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def layer_path() -> str:
    """The layer as `sam build` makes it (built again when what goes into it changed), plus the functions' code."""
    inputs = [REPO / "src" / "requirements.txt", REPO / "src" / "Makefile",
              *sorted((REPO / "src" / "mixcore").rglob("*.py")), *sorted((REPO / "src" / "mixcore").rglob("*.json"))]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    stamp = LAYER / ".inputs-sha256"
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"building the layer into {LAYER} (src/Makefile, as sam build does)...", file=sys.stderr, flush=True)
        shutil.rmtree(LAYER, ignore_errors=True)
        subprocess.run(["make", "-s", "-C", str(REPO / "src"), "build-MixcoreLayer", f"ARTIFACTS_DIR={LAYER}",
                        f"PYTHON={sys.executable}"], check=True, capture_output=True)
        stamp.write_text(digest)
    return str(LAYER / "python")


def function_environment(name: str) -> dict[str, str]:
    """The literal variables template.yaml gives the function (Globals and its own; references are left out)."""
    from mixcore.local.template import Template

    environment = Template.load(REPO / "template.yaml").functions()[FUNCTIONS[name]].environment
    return {key: value for key, value in environment.items() if isinstance(value, str)}


def probe(target: str, path: str, environment: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-S", "-c", PROBE, target, path], capture_output=True, text=True,
                         check=True, env={**{k: v for k, v in os.environ.items() if not k.startswith(
                             ("POWERTOOLS_", "MIXCORE_", "AWS_", "PYTHON", "LAMBDA_"))}, **environment, **ENV},
                         cwd=REPO)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


REFERENCE, CHAT, STACK = ("import boto3 (reference)", "chat function init",
                          "the stack alone (chat's libraries + 1 model)")


def measure(rounds: int) -> tuple[dict[str, dict[str, float]], list[float]]:
    """Per target: median, spread and peak RSS; and the chat init ÷ `import boto3` of each round."""
    path = layer_path()
    chat_env = function_environment("chat")
    targets = {REFERENCE: ("boto3", chat_env), "import boto3 + a client": ("boto3+client", chat_env),
               **{f"{name} function init": (str(REPO / "functions" / name / "app.py"), function_environment(name))
                  for name in FUNCTIONS},
               STACK: ("stack", chat_env),
               "X-Ray SDK + Tracer (first traced call)": ("xray", chat_env)}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in targets}
    for _ in range(rounds):  # interleaved: every target once per round
        for label, (target, environment) in targets.items():
            runs[label].append(probe(target, path, environment))
    summary = {}
    for label, results in runs.items():
        times = sorted(r["init_s"] * 1000 for r in results)
        summary[label] = {"median_ms": statistics.median(times), "min_ms": times[0], "max_ms": times[-1],
                          "rss_mb": max(r["rss_mb"] for r in results)}
    ratios = [chat["init_s"] / boto3["init_s"] for chat, boto3 in zip(runs[CHAT], runs[REFERENCE], strict=True)]
    floor = [stack["init_s"] / boto3["init_s"] for stack, boto3 in zip(runs[STACK], runs[REFERENCE], strict=True)]
    summary[STACK]["ratio_to_reference"] = statistics.median(floor)
    return summary, ratios


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    summary, ratios = measure(args.rounds)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; {args.rounds} interleaved rounds; "
          "interpreter with -S, the layer as sam build makes it, the template's environment")
    print(f"{'init':<46} {'median ms':>10} {'spread ms':>14} {'peak RSS MB':>12}")
    for label, row in summary.items():
        spread = f"{row['min_ms']:.0f}-{row['max_ms']:.0f}"
        print(f"{label:<46} {row['median_ms']:>10.0f} {spread:>14} {row['rss_mb']:>12.1f}")
    # The machine's speed drifts between rounds (a shared VM): each round's chat init is divided by the
    # `import boto3` measured beside it, and the median of those ratios is the figure.
    ratio = statistics.median(ratios)
    ordered = sorted(ratios)
    print(f"chat function init / import boto3, median of {len(ratios)} rounds = {ratio:.2f} "
          f"(rounds {ordered[0]:.2f}-{ordered[-1]:.2f}; goal <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
    print(f"the stack alone / import boto3, median of rounds = {summary[STACK]['ratio_to_reference']:.2f} "
          "(what any app on these libraries starts from)")
    print("RESULT " + json.dumps({"coldstart": {
        "chat_init_ratio": round(ratio, 2), "ratio_spread": [round(ordered[0], 2), round(ordered[-1], 2)],
        "reference_ms": round(summary[REFERENCE]["median_ms"]), "chat_init_ms": round(summary[CHAT]["median_ms"]),
        "chat_rss_mb": round(summary[CHAT]["rss_mb"], 1),
        "stack_ratio": round(summary[STACK]["ratio_to_reference"], 2), "rows": summary}}))


if __name__ == "__main__":
    main()
