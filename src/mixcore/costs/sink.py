"""Where cost records go. The interface the request path uses; adapters live beside it."""

from __future__ import annotations

import threading
from typing import Protocol

from mixcore.costs.records import CostRecord


class CostSink(Protocol):
    def add(self, record: CostRecord) -> None:
        """Queue a record; never raises into the request path."""

    def flush(self) -> dict[str, int]:
        """Deliver queued records (after each answer's last byte), within about a second; counts of this flush."""


class MemorySink:
    """Keeps records in memory: for tests and for runs with no delivery stream configured."""

    def __init__(self) -> None:
        self.records: list[CostRecord] = []
        self.delivered: list[CostRecord] = []
        self._lock = threading.Lock()

    def add(self, record: CostRecord) -> None:
        with self._lock:
            self.records.append(record)

    def flush(self) -> dict[str, int]:
        with self._lock:
            delivered = len(self.records)
            self.delivered.extend(self.records)
            self.records.clear()
        return {"delivered": delivered}
