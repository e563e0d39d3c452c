"""Cold start: each function's init in a fresh interpreter that sees only what Lambda would, beside `import boto3`.

The interpreter runs with `-S` (no site-packages) and a path of the layer as `sam build` makes it
(src/requirements.txt installed with pip into .bench/layer, plus src/): dev tools in the venv (rich,
pygments, pytest…) cannot make an import look slower or faster than on Lambda.
The chat function's init is what run.sh does before the adapter's readiness check passes: the app
imported and a uvicorn server configured for it.
Reference: bare `import boto3` in the same kind of interpreter, measured in the same rounds, which are
interleaved (every target once per round), so machine noise lands on reference and targets alike.
Goal (issue 16): chat init ≤ 1.5 × `import boto3`.
Run: .venv/bin/python bench/coldstart.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYER = REPO / ".bench" / "layer"
ENV = {"POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "WARNING",
       "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "POWERTOOLS_SERVICE_NAME": "mixcore",
       # as on Lambda: tracing is on, and the tracer is still not loaded before the first traced call
       "LAMBDA_TASK_ROOT": "/var/task"}

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
elif target == "xray":
    from aws_lambda_powertools.tracing import Tracer
    Tracer(service="mixcore")
else:
    spec = importlib.util.spec_from_file_location("app", target)
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    if hasattr(module, "app") and not hasattr(module, "lambda_handler"):
        import uvicorn  # what run.sh starts: the server, configured for the app, ready to bind
        config = uvicorn.Config(module.app, lifespan="off", access_log=False)
        config.load()
        uvicorn.Server(config)
print(json.dumps({"init_s": time.perf_counter() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def layer_path() -> str:
    """The layer's packages (installed once per requirements.txt content) and the runtime package."""
    requirements = REPO / "src" / "requirements.txt"
    stamp = LAYER / ".requirements-sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"installing the layer's requirements into {LAYER} (once)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target", str(LAYER),
                        "--requirement", str(requirements)], check=True, capture_output=True)
        stamp.write_text(digest)
    return f"{LAYER}:{REPO / 'src'}"


def probe(target: str, path: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-S", "-c", PROBE, target, path], capture_output=True, text=True,
                         check=True, env={**{k: v for k, v in os.environ.items() if not k.startswith(
                             ("POWERTOOLS_", "MIXCORE_", "AWS_", "PYTHON"))}, **ENV}, cwd=REPO)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(rounds: int) -> dict[str, dict[str, float]]:
    path = layer_path()
    targets = {"import boto3 (reference)": "boto3", "import boto3 + a client": "boto3+client",
               **{f"{name} function init": str(REPO / "functions" / name / "app.py")
                  for name in ("chat", "catalog", "authorizer", "indexer")},
               "X-Ray SDK + Tracer (first traced call)": "xray"}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in targets}
    for _ in range(rounds):  # interleaved: every target once per round
        for label, target in targets.items():
            runs[label].append(probe(target, path))
    summary = {}
    for label, results in runs.items():
        times = sorted(r["init_s"] * 1000 for r in results)
        summary[label] = {"median_ms": statistics.median(times), "min_ms": times[0], "max_ms": times[-1],
                          "rss_mb": max(r["rss_mb"] for r in results)}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    summary = measure(args.rounds)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; {args.rounds} interleaved rounds; "
          "interpreter with -S and the layer's packages only")
    print(f"{'init':<40} {'median ms':>10} {'spread ms':>14} {'peak RSS MB':>12}")
    for label, row in summary.items():
        spread = f"{row['min_ms']:.0f}-{row['max_ms']:.0f}"
        print(f"{label:<40} {row['median_ms']:>10.0f} {spread:>14} {row['rss_mb']:>12.1f}")
    reference = summary["import boto3 (reference)"]["median_ms"]
    ratio = summary["chat function init"]["median_ms"] / reference
    print(f"chat function init / import boto3 = {ratio:.2f} (goal <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
    print("RESULT " + json.dumps({"coldstart": {"chat_init_ratio": round(ratio, 2), "reference_ms": round(reference),
                                                "rows": summary}}))


if __name__ == "__main__":
    main()
