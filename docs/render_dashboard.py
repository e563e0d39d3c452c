"""Render template.yaml's CloudWatch dashboard to docs/dashboard.png from the metrics of a local run.

    .venv/bin/pip install matplotlib   # only this script needs it
    .venv/bin/python docs/render_dashboard.py [--seconds 60]

It starts `mixcore serve` with metrics on, sends a mix of traffic (answers, streams, mixes, a failing
provider, a budget refusal, the catalog routes), runs the indexer with `mixcore invoke`, then draws
each widget of the dashboard body where the template places it, from the EMF lines printed. CloudWatch
periods (300 s, 3600 s) become 5 s buckets so that a minute's run shows a shape.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from mixcore.local.template import Template  # noqa: E402

SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"', '(\w+)'")
BUCKET_SECONDS = 5.0
KEY = "mx-render-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_run(seconds: float) -> list[str]:
    """Every line a metrics-on local stack (and an indexer invoke) printed under `seconds` of traffic."""
    port, aws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIXCORE_", "AWS_"))}
    env.update({"PYTHONUNBUFFERED": "1", "POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_LOG_LEVEL": "INFO",
                "MIXCORE_ATTEMPT_TIMEOUT_SECONDS": "2", "MIXCORE_COOLDOWN_SECONDS": "5"})
    process = subprocess.Popen([sys.executable, "-m", "mixcore.cli", "serve", "--port", str(port), "--aws-port",
                                str(aws_port), "--dev-key", KEY, "--demo-latency-ms", "150", "--demo-chunk-ms", "15"],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    threading.Thread(target=lambda: [lines.append(line) for line in process.stdout or []], daemon=True).start()
    exports = dict(item.split("=", 1) for item in next(l for l in lines if "CLI against it" in l)
                   .split("export", 1)[1].split())
    demo_url = next(l.split(" at ")[1].split(" ")[0] for l in lines if "local demo servers at" in l)
    base = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {KEY}"}
    models = ["openai/gpt-4o", "index/lmsys-overall", "index/lmsys-coding", "synthesis/moa-lite", "cascade/frugal",
              "anthropic/claude-sonnet-4-5", "mistral/mistral-large-latest"]
    random.seed(7)
    started = time.monotonic()
    with httpx.Client(timeout=60) as client:
        while (elapsed := time.monotonic() - started) < seconds:
            failing = seconds * 0.4 < elapsed < seconds * 0.6
            client.post(f"{demo_url}/_control/behaviour",
                        json={"target": "mistral", "behaviour": {"status": 500} if failing else None})
            body = {"model": random.choice(models), "messages": [{"role": "user", "content": "What is 6 x 7?"}],
                    "stream": random.random() < 0.5}
            client.post(f"{base}/chat/completions", json=body, headers=headers)
            if random.random() < 0.2:
                client.get(f"{base}/{random.choice(['models', 'mixes', 'leaderboards'])}", headers=headers)
            if random.random() < 0.05:
                client.post(f"{base}/chat/completions", json=body, headers={"Authorization": "Bearer nope"})
    indexer = subprocess.run([sys.executable, "-m", "mixcore.cli", "invoke", "IndexerFunction", "--event",
                              "events/indexer_schedule.json"], cwd=REPO, capture_output=True, text=True,
                             env={**env, **exports, "MIXCORE_SOURCES_MIRROR": "tests/fixtures"}, timeout=120)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    return [*lines, *indexer.stderr.splitlines()]


def emf_points(lines: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The EMF blobs and the `request served` log records among the lines."""
    blobs, served = [], []
    for line in lines:
        line = line.strip()
        if line.startswith('{"_aws"'):
            blobs.append(json.loads(line))
        elif line.startswith("{") and '"request served"' in line:
            served.append(json.loads(line))
    return blobs, served


def series(blobs: list[dict[str, Any]], namespace: str, name: str, dimensions: dict[str, str | None],
           ) -> dict[str, list[tuple[float, float]]]:
    """(time, value) points of a metric per value of its free dimensions (None = any value, as SEARCH)."""
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != namespace or name not in {m["Name"] for m in directive["Metrics"]}:
                continue
            for dimension_set in directive["Dimensions"]:
                if set(dimension_set) != set(dimensions):
                    continue
                if any(v is not None and blob.get(k) != v for k, v in dimensions.items()):
                    continue
                label = " ".join(str(blob[k]) for k, v in dimensions.items() if v is None) or name
                values = blob[name] if isinstance(blob[name], list) else [blob[name]]
                found[label] += [(blob["_aws"]["Timestamp"] / 1000, float(v)) for v in values]
    return found


def aggregate(points: list[tuple[float, float]], stat: str, start: float) -> tuple[list[float], list[float]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for at, value in points:
        buckets[int((at - start) // BUCKET_SECONDS)].append(value)
    xs, ys = [], []
    for index in sorted(buckets):
        values = sorted(buckets[index])
        if stat == "Sum":
            y = sum(values)
        elif stat == "Maximum":
            y = values[-1]
        elif stat == "Minimum":
            y = values[0]
        elif stat.startswith("p"):
            y = values[min(len(values) - 1, int(len(values) * float(stat[1:]) / 100))]
        else:
            y = sum(values) / len(values)
        xs.append(index * BUCKET_SECONDS)
        ys.append(y)
    return xs, ys


def render(template: Template, lines: list[str], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = {"AWS::Region": "us-east-1", "AWS::StackName": "local", "StaleLeaderboardHours": "48"}
    body = template.resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{([\w:]+)\}", lambda m: values.get(m.group(1), m.group(1)), body))["widgets"]
    blobs, served = emf_points(lines)
    start = min((b["_aws"]["Timestamp"] / 1000 for b in blobs), default=0.0)
    rows = max(w["y"] + w["height"] for w in widgets)
    figure = plt.figure(figsize=(24, rows * 0.75))
    grid = figure.add_gridspec(rows, 24, hspace=2.5, wspace=1.5)
    for widget in widgets:
        axes = figure.add_subplot(grid[widget["y"]:widget["y"] + widget["height"], widget["x"]:widget["x"] + widget["width"]])
        props = widget["properties"]
        if widget["type"] == "text":
            axes.axis("off")
            axes.text(0, 0.5, props["markdown"].replace("## ", ""), fontsize=11, va="center", wrap=True)
            continue
        axes.set_title(props.get("title", ""), fontsize=10, loc="left")
        if widget["type"] == "log":
            axes.axis("off")
            counts: dict[tuple[str, str], int] = defaultdict(int)
            for record in served:
                counts[(record.get("mix", ""), record.get("model", ""))] += 1
            table = [[mix, model, str(n)] for (mix, model), n in sorted(counts.items())][:10]
            if table:
                axes.table(cellText=table, colLabels=["mix", "model", "requests"], loc="upper left",
                           cellLoc="left").auto_set_font_size(True)
            continue
        previous: list[Any] = []
        for entry in props.get("metrics", []):
            options = next((item for item in entry if isinstance(item, dict)), {})
            names = [item for item in entry if not isinstance(item, dict)]
            if not names:
                found = SEARCH.search(options.get("expression", ""))
                if not found:
                    continue
                namespace, *free = [part.strip() for part in found.group(1).split(",")]
                dims: dict[str, str | None] = {d: None for d in free}
                if "service" in dims:
                    dims["service"] = "mixcore"
                stat, label_prefix = found.group(3), options.get("label", "")
                name = found.group(2)
            else:
                names = [previous[i] if item == "." else item for i, item in enumerate(names)]
                previous = names
                namespace, name = names[0], names[1]
                dims = dict(zip(names[2::2], names[3::2], strict=True))
                stat = options.get("stat", props.get("stat", "Sum"))
                label_prefix = ""
                if options.get("visible") is False:
                    continue
            for label, points in sorted(series(blobs, namespace, name, dims).items()):
                xs, ys = aggregate(points, stat, start)
                text = options.get("label") if names and options.get("label") else f"{label_prefix}{label} {stat}"
                axes.plot(xs, ys, marker=".", label=text[:40])
        for line in (props.get("annotations") or {}).get("horizontal", []):
            axes.axhline(float(line["value"]), color="red", linestyle="--", linewidth=1)
        axes.tick_params(labelsize=7)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=6, loc="upper left")
        elif props.get("metrics"):
            axes.text(0.5, 0.5, "no data in this run (AWS service metric)", ha="center", va="center",
                      transform=axes.transAxes, fontsize=8, color="grey")
    figure.suptitle("mixcore dashboard (template.yaml), from a local run; x: seconds, 5 s buckets", fontsize=13)
    figure.savefig(target, dpi=60, bbox_inches="tight")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", default=str(REPO / "docs" / "dashboard.png"))
    args = parser.parse_args()
    print(f"Driving a local stack for {args.seconds:.0f} s...", file=sys.stderr, flush=True)
    lines = local_run(args.seconds)
    render(Template.load(REPO / "template.yaml"), lines, Path(args.out))
    print(f"Wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
