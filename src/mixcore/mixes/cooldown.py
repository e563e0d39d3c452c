"""Provider cool-down shared across warm invocations: skip a provider that keeps failing, for a while."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Cooldowns:
    threshold: int = 3
    seconds: float = 30.0
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cooling(self, provider: str, now: float | None = None) -> float:
        """Seconds left in the provider's cool-down (0 when callable)."""
        until = self._until.get(provider, 0.0)
        return max(0.0, until - (time.monotonic() if now is None else now))

    def failed(self, provider: str) -> None:
        with self._lock:
            count = self._failures.get(provider, 0) + 1
            self._failures[provider] = count
            if count >= self.threshold:
                self._until[provider] = time.monotonic() + self.seconds
                self._failures[provider] = 0

    def succeeded(self, provider: str) -> None:
        with self._lock:
            self._failures.pop(provider, None)
            self._until.pop(provider, None)
