"""`make bench`: runs every benchmark, prints the goals of issue 16 against this run's figures, writes bench/results.md.

Each script prints its figures and one `RESULT {json}` line; the goals table is built from those lines,
so every figure in it was measured in this run, beside its own reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPTS = ["coldstart.py", "overhead.py", "indexer.py", "fanout.py", "load.py", "cost_delivery.py", "routing.py"]


def goals_table(results: dict[str, Any]) -> list[str]:
    """Markdown rows: what, this run's figure, the goal, met or not."""
    rows = ["| what (issue 16) | this run | goal | |", "|---|---|---|---|"]
    cold = results.get("coldstart")
    if cold:
        low, high = cold["ratio_spread"]
        ratio = cold["chat_init_ratio"]
        rows.append(f"| chat function init ÷ `import boto3` (median of per-round ratios; rounds {low}–{high}; "
                    f"{cold['chat_init_ms']} ms against {cold['reference_ms']} ms) | {ratio:.2f}× | ≤ 1.5× | "
                    f"{'met' if ratio <= 1.5 else '**not met**'} |")
        rows.append(f"| the same for the stack alone: the chat function's libraries and one pydantic model | "
                    f"{cold['stack_ratio']:.2f}× | (floor) | |")
    over = results.get("overhead")
    if over:
        for goal in over["goals"]:
            rows.append(f"| {goal['what']} | {goal['value_ms']:+.2f} ms | ≤ {goal['goal_ms']:.0f} ms | "
                        f"{'met' if goal['met'] else '**not met**'} |")
        for delay, by_kind in over["results"].items():
            for kind, label in (("whole", "whole answer"), ("ttft", "TTFT")):
                stack = by_kind[kind]["local stack (HTTP)"]
                rows.append(f"| {label} added p50/p99, {delay} ms upstream, through the local stack | "
                            f"{stack['added_p50']:+.2f} / {stack['added_p99']:+.2f} ms | (no goal) | |")
        rows.append(f"| peak RSS, a process serving 1,000 chat requests in process | {over['serving_rss_mb']:.0f} MB "
                    "| (no goal) | |")
    if cold:
        rows.append(f"| peak RSS, chat function after init | {cold['chat_rss_mb']:.0f} MB | (no goal) | |")
    if over:
        penalty = over["cold_penalty"]
        rows.append(f"| the app's own path hot / after 50 ms idle (what a wait costs the work after it) | "
                    f"{penalty['hot_ms']:.2f} / {penalty['after_idle_ms']:.2f} ms | (machine) | |")
    rows.extend(routing_rows(results.get("routing")))
    return rows


def routing_rows(routing: dict[str, Any] | None) -> list[str]:
    """Issue 29's goals: the router against the length baseline and the published results, and its speed."""
    if not routing:
        return []
    rows = []
    for row in routing["rows"]:
        if row["goal"] is None:
            continue
        rows.append(f"| {row['router']} router APGR, {row['benchmark']} ({row['protocol']}); length baseline "
                    f"{row['length_apgr']:.3f} | {row['apgr']:.3f} (CPT50 {row['cpt50']:.1%}) | {row['goal']['what']} "
                    f"| {'met' if row['goal']['met'] else '**not met**'} |")
    cascade = routing.get("cascade")
    if cascade:
        rows.append(f"| AutoMix cascade APGR on GSM8K, every call's cost counted (stand-in verifier, k="
                    f"{cascade['samples']}; fixed spend {cascade['fixed_spend']:.1%}) | {cascade['apgr']:.3f} | "
                    "≥ 0.66 | "
                    f"{'met' if cascade['apgr'] >= 0.66 else '**not met**'} |")
    p50, p99 = routing["score_ms"]["20k"]
    rows.append(f"| router scoring p50/p99, 20,000-token prompt | {p50:.2f} / {p99:.2f} ms | p99 ≤ 2 ms | "
                f"{'met' if p99 <= 2 else '**not met**'} |")
    rows.append(f"| router load | {routing['load_ms']:.1f} ms | ≤ 20 ms | "
                f"{'met' if routing['load_ms'] <= 20 else '**not met**'} |")
    return rows


def main() -> int:
    machine = f"{os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}"
    sections: list[str] = []
    results: dict[str, Any] = {}
    failed = 0
    for number, script in enumerate(SCRIPTS, 1):
        print(f"== [{number}/{len(SCRIPTS)}] {script}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True, timeout=900)
        lines = []
        for line in result.stdout.splitlines():
            if line.startswith("RESULT "):
                results.update(json.loads(line[len("RESULT "):]))
            elif not line.startswith('{"_aws"'):  # EMF is what Lambda would ship to CloudWatch, not a figure
                lines.append(line)
        print("\n".join(lines), flush=True)
        if result.returncode:
            failed += 1
            print(result.stderr[-2000:], file=sys.stderr)
        sections.append(f"## {script} ({time.monotonic() - started:.0f} s)\n\n```\n" + "\n".join(lines) + "\n```\n")
    table = goals_table(results)
    print("\n" + "\n".join(table))
    header = (f"# Benchmark results\n\nMade by `make bench` on {time.strftime('%Y-%m-%d')} ({machine}), "
              "every figure measured in this one run beside its reference.\n\n" + "\n".join(table) + "\n")
    (HERE / "results.md").write_text("\n".join([header, *sections]))
    print(f"wrote {HERE / 'results.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
