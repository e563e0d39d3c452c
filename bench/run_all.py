"""`make bench`: runs every benchmark and writes their figures to bench/results.md."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["indexer.py", "overhead.py", "fanout.py", "coldstart.py", "load.py", "cost_delivery.py"]


def main() -> int:
    sections = [f"# Benchmark results\n\nMade by `make bench` on {time.strftime('%Y-%m-%d')} "
                f"({sys.platform}, Python {sys.version.split()[0]}).\n"]
    failed = 0
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True, timeout=600)
        # EMF lines are what Lambda would ship to CloudWatch; they are not figures.
        lines = [line for line in result.stdout.splitlines() if not line.startswith('{"_aws"')]
        print("\n".join(lines), flush=True)
        if result.returncode:
            failed += 1
            print(result.stderr[-2000:], file=sys.stderr)
        sections.append(f"## {script} ({time.monotonic() - started:.0f} s)\n\n```\n" + "\n".join(lines) + "\n```\n")
    (HERE / "results.md").write_text("\n".join(sections))
    print(f"wrote {HERE / 'results.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
