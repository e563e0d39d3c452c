"""Render template.yaml's CloudWatch dashboard to docs/dashboard.png from the metrics of a local run.

    make dashboard        # installs matplotlib (the `docs` extra), then runs this script

It starts `mixcore serve` with metrics on, sends a mix of traffic (answers, streams, mixes and route mixes
with short and long questions, a failing provider, a budget refusal, the catalog routes), runs the indexer
with `mixcore invoke` (once with its sources, once with none, so failed sources show), then draws each
widget of the dashboard body where the template places it, from the EMF lines printed, as CloudWatch
would: each series under its label
(dynamic labels such as `${PROP('Dim.Mix')}` filled in), series with `yAxis: right` on a right axis.
CloudWatch periods are scaled 1:60 so that a minute's run shows a shape: a 300 s period is a 5 s bucket,
an hour a minute. A widget whose series each have one point (an indexer run) is drawn as bars. The
picture carries the SHA-256 of the template's dashboard body (PNG text `Source`), so a test can tell a
picture older than the template.
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
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from mixcore.local.template import Template  # noqa: E402

SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"', '(\w+)', (\d+)\)")
DYNAMIC_LABEL = re.compile(r"\$\{PROP\('Dim\.(\w+)'\)\}")
PERIOD_SCALE = 60.0  # a CloudWatch period of P seconds is a bucket of P / 60 seconds here
KEY = "mx-render-key"


def dashboard_body_text(template: Template) -> str:
    text: str = template.resources()["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return text


def dashboard_fingerprint(template: Template) -> str:
    """What the picture is drawn from: the SHA-256 of the template's dashboard body."""
    import hashlib

    return hashlib.sha256(dashboard_body_text(template).encode()).hexdigest()


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
              "anthropic/claude-sonnet-4-5", "mistral/mistral-large-latest", "route/auto", "route/cascade/math"]
    # A long question now and then: route/auto sends it to the strong side, the short one to the weak side.
    questions = ["What is 6 x 7?", "Work out, step by step, the week's parcels and write code to check it. " * 30]
    random.seed(7)
    started = time.monotonic()
    with httpx.Client(timeout=60) as client:
        while (elapsed := time.monotonic() - started) < seconds:
            failing = seconds * 0.4 < elapsed < seconds * 0.6
            client.post(f"{demo_url}/_control/behaviour",
                        json={"target": "mistral", "behaviour": {"status": 500} if failing else None})
            question = questions[random.random() < 0.3]
            body = {"model": random.choice(models), "messages": [{"role": "user", "content": question}],
                    "stream": random.random() < 0.5}
            client.post(f"{base}/chat/completions", json=body, headers=headers)
            if random.random() < 0.2:
                client.get(f"{base}/{random.choice(['models', 'mixes', 'leaderboards'])}", headers=headers)
            if random.random() < 0.05:
                client.post(f"{base}/chat/completions", json=body, headers={"Authorization": "Bearer nope"})
        tiny = subprocess.run([sys.executable, "-m", "mixcore.cli", "keys", "create", "--name", "tiny", "--budget",
                               "0.000001"], cwd=REPO, capture_output=True, text=True, env={**env, **exports},
                              timeout=60).stdout.strip().splitlines()[-1]
        for _ in range(3):  # budget refusals (402)
            client.post(f"{base}/chat/completions", json=body, headers={"Authorization": f"Bearer {tiny}"})
    runs = []
    for mirror in ("tests/fixtures", tempfile.mkdtemp()):  # the second run has no saved pages: every source fails
        runs.append(subprocess.run([sys.executable, "-m", "mixcore.cli", "invoke", "IndexerFunction", "--event",
                                    "events/indexer_schedule.json"], cwd=REPO, capture_output=True, text=True,
                                   env={**env, **exports, "MIXCORE_SOURCES_MIRROR": mirror}, timeout=120))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return [*lines, *(line for run in runs for line in run.stderr.splitlines())]


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
                label = "\t".join(f"{k}={blob[k]}" for k, v in dimensions.items() if v is None)
                values = blob[name] if isinstance(blob[name], list) else [blob[name]]
                found[label] += [(blob["_aws"]["Timestamp"] / 1000, float(v)) for v in values]
    return found


def series_label(template_label: str | None, name: str, stat: str, found: str) -> str:
    """The label CloudWatch shows: the widget's label with its dynamic parts filled in, else name and dimensions."""
    values = dict(part.split("=", 1) for part in found.split("\t") if part)
    if template_label:
        return DYNAMIC_LABEL.sub(lambda m: values.get(m.group(1), "?"), template_label)
    return " ".join([name, *values.values(), stat])


def aggregate(points: list[tuple[float, float]], stat: str, start: float,
              bucket_seconds: float) -> tuple[list[float], list[float]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for at, value in points:
        buckets[int((at - start) // bucket_seconds)].append(value)
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
        xs.append(index * bucket_seconds)
        ys.append(y)
    return xs, ys


def widget_series(props: dict[str, Any], blobs: list[dict[str, Any]], start: float,
                  ) -> list[tuple[str, bool, list[float], list[float]]]:
    """Each series a metric widget draws: label, on the right axis, x (seconds) and y."""
    drawn = []
    previous: list[Any] = []
    for entry in props.get("metrics", []):
        options = next((item for item in entry if isinstance(item, dict)), {})
        names = [item for item in entry if not isinstance(item, dict)]
        period = float(props.get("period", 300))
        if not names:
            found = SEARCH.search(options.get("expression", ""))
            if not found:
                continue
            namespace, *free = [part.strip() for part in found.group(1).split(",")]
            dims: dict[str, str | None] = {d: None for d in free}
            if "service" in dims:
                dims["service"] = "mixcore"
            name, stat, period = found.group(2), found.group(3), float(found.group(4))
        else:
            names = [previous[i] if item == "." else item for i, item in enumerate(names)]
            previous = names
            namespace, name = names[0], names[1]
            dims = dict(zip(names[2::2], names[3::2], strict=True))
            stat = options.get("stat", props.get("stat", "Sum"))
            if options.get("visible") is False:
                continue
        for found_label, points in sorted(series(blobs, namespace, name, dims).items()):
            xs, ys = aggregate(points, stat, start, period / PERIOD_SCALE)
            label = series_label(options.get("label"), name, stat, found_label)
            drawn.append((label, options.get("yAxis") == "right", xs, ys))
    return drawn


def draw_log_widget(axes: Any, served: list[dict[str, Any]]) -> None:
    """The Logs Insights table (requests by mix and model) as bars, one per mix → model, largest first."""
    counts: dict[str, int] = defaultdict(int)
    for record in served:
        counts[f"{record.get('mix', '')} → {record.get('model', '')}"] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]
    if not ranked:
        return
    labels, values = zip(*reversed(ranked), strict=True)
    axes.barh(range(len(values)), values, color="tab:blue")
    axes.set_yticks(range(len(values)), labels, fontsize=8)
    axes.set_xlabel("requests", fontsize=8)


def draw_metric_widget(axes: Any, props: dict[str, Any], blobs: list[dict[str, Any]], start: float) -> None:
    drawn = widget_series(props, blobs, start)
    if drawn and all(len(xs) == 1 for _, _, xs, _ in drawn):  # one point each (an indexer run): bars
        axes.bar(range(len(drawn)), [ys[-1] for _, _, _, ys in drawn], color="tab:blue")
        axes.set_xticks(range(len(drawn)), [label for label, *_ in drawn], fontsize=8, rotation=20, ha="right")
    else:
        right = axes.twinx() if any(on_right for _, on_right, _, _ in drawn) else None
        for label, on_right, xs, ys in drawn:
            (right if on_right and right is not None else axes).plot(xs, ys, marker=".", label=label[:45])
        handles = [h for target in (axes, right) if target is not None for h in zip(*target.get_legend_handles_labels())]
        if handles:
            axes.legend([h for h, _ in handles], [lbl for _, lbl in handles], fontsize=7, loc="upper left")
        if right is not None:
            right.tick_params(labelsize=7)
    for line in (props.get("annotations") or {}).get("horizontal", []):
        axes.axhline(float(line["value"]), color="red", linestyle="--", linewidth=1)
    axes.tick_params(labelsize=7)
    if not drawn:
        axes.text(0.5, 0.5, "no data in this run (AWS service metric)", ha="center", va="center",
                  transform=axes.transAxes, fontsize=8, color="grey")


def render(template: Template, lines: list[str], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = {"AWS::Region": "us-east-1", "AWS::StackName": "local", "StaleLeaderboardHours": "48"}
    body = dashboard_body_text(template).replace("${!", "${")
    widgets = json.loads(re.sub(r"\$\{([\w:]+)\}", lambda m: values.get(m.group(1), m.group(1)), body))["widgets"]
    blobs, served = emf_points(lines)
    start = min((b["_aws"]["Timestamp"] / 1000 for b in blobs), default=0.0)
    rows = max(w["y"] + w["height"] for w in widgets)
    figure = plt.figure(figsize=(26, rows * 0.95))
    grid = figure.add_gridspec(rows, 24, hspace=3.0, wspace=2.5)
    for widget in widgets:
        axes = figure.add_subplot(grid[widget["y"]:widget["y"] + widget["height"],
                                       widget["x"]:widget["x"] + widget["width"]])
        props = widget["properties"]
        if widget["type"] == "text":
            axes.axis("off")
            axes.text(0, 1, props["markdown"].replace("## ", ""), fontsize=11, va="top", wrap=True)
            continue
        axes.set_title(props.get("title", ""), fontsize=11, loc="left")
        if widget["type"] == "log":
            draw_log_widget(axes, served)
        else:
            draw_metric_widget(axes, props, blobs, start)
    figure.suptitle("mixcore dashboard (template.yaml), from a local run; x: seconds, CloudWatch periods scaled "
                    "1:60 (300 s → 5 s, an hour → a minute)", fontsize=13)
    figure.savefig(target, dpi=60, bbox_inches="tight", metadata={"Source": dashboard_fingerprint(template)})


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
