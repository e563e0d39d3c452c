"""Time to parse every leaderboard fixture (and, once index mixes exist, to resolve every default mix).

Run: .venv/bin/python bench/indexer.py  — prints figures; nothing here is asserted.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from mixcore.leaderboards.indexer import SOURCES, parse_documents
from mixcore.leaderboards.models import Document

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "leaderboards"


def parse_all() -> tuple[int, int]:
    files = rankings = 0
    for source in SOURCES:
        documents = [Document(origin=str(p), data=p.read_bytes()) for p in sorted((FIXTURES / source).iterdir())
                     if p.is_file()]
        parsed, _ = parse_documents(source, documents)
        files += len(documents)
        rankings += len(parsed)
    return files, rankings


def main() -> None:
    started = time.perf_counter()
    files, rankings = parse_all()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(5):
        started = time.perf_counter()
        parse_all()
        warm.append(time.perf_counter() - started)
    print(f"parse every fixture: {files} files -> {rankings} rankings")
    print(f"  first run (imports, caches): {cold * 1000:.0f} ms")
    print(f"  warm runs: median {statistics.median(warm) * 1000:.0f} ms, best {min(warm) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
