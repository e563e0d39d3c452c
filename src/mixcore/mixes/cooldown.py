"""Cool-downs shared across warm invocations: skip a provider or model that keeps failing, for a while.

One tenant must not be able to deny service to the others. So a failure counts against the
narrowest scope that failed (the model, or the whole provider when it could not be reached), and
only provider-side failures count (the chain decides; never a client's own error or a long
generation it asked for). A tenant whose own calls keep failing cools the scope down for itself;
the scope cools down for everyone only when at least two tenants saw it fail within the window with
ordinary requests: a request whose shape could be why it failed (a huge prompt, many choices) counts
for its own tenant alone, so a few keys sending such requests cannot take a model from everyone.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

EVERYONE = "*"
MIN_TENANTS = 2


@dataclass
class Cooldowns:
    threshold: int = 3
    seconds: float = 30.0
    # scope ("provider" or "provider/model") → recent failures as (time, tenant, an ordinary request?)
    _failures: dict[str, list[tuple[float, str, bool]]] = field(default_factory=dict)
    # (scope, tenant or EVERYONE) → monotonic time the cool-down ends
    _until: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # model → why it is set aside for everyone at once (not a count of failures)
    _gone: dict[str, str] = field(default_factory=dict)

    def cooling(self, provider: str, model: str | None = None, tenant: str | None = None,
                now: float | None = None) -> float:
        """Seconds left before `tenant` may call this provider (or this model of it); 0 when callable."""
        now = time.monotonic() if now is None else now
        scopes = [provider] + ([model] if model else [])
        tenants = [EVERYONE] + ([tenant] if tenant else [])
        until = max((self._until.get((scope, who), 0.0) for scope in scopes for who in tenants), default=0.0)
        return max(0.0, until - now)

    def failed(self, provider: str, model: str | None = None, tenant: str | None = None, *,
               whole_provider: bool = False, ordinary: bool = True) -> None:
        """Count one provider-side failure of a call `tenant` made (`ordinary`: of a request whose shape cannot
        explain the failure)."""
        scope = provider if whole_provider or not model else model
        who = tenant or "-"
        now = time.monotonic()
        with self._lock:
            recent = [f for f in self._failures.get(scope, []) if now - f[0] < self.seconds]
            recent.append((now, who, ordinary))
            self._failures[scope] = recent
            if sum(1 for _, t, _ in recent if t == who) >= self.threshold:
                self._until[(scope, who)] = now + self.seconds
            shared = [t for _, t, plain in recent if plain]
            if len(shared) >= self.threshold and len(set(shared)) >= MIN_TENANTS:
                self._until[(scope, EVERYONE)] = now + self.seconds
                self._failures[scope] = []

    def model_gone(self, model: str, seconds: float, reason: str) -> None:
        """The provider says this model does not exist (404 model_not_found): nobody's request should pay for
        that call again for a long while. Only this model is set aside, never its provider."""
        with self._lock:
            self._until[(model, EVERYONE)] = time.monotonic() + seconds
            self._gone[model] = reason

    def reason(self, model: str) -> str:
        """Why a cooling model is set aside, in words for a mix's description."""
        return self._gone.get(model, "cooling down after repeated failures")

    def gone(self, model: str) -> str | None:
        """Why the model is set aside as not existing, while it is; else None."""
        reason = self._gone.get(model)
        return reason if reason is not None and self.cooling(model) > 0 else None

    def succeeded(self, provider: str, model: str | None = None) -> None:
        """A call answered: the provider and the model are healthy again, for everyone."""
        scopes = {provider} | ({model} if model else set())
        with self._lock:
            for scope in scopes:
                self._failures.pop(scope, None)
                self._gone.pop(scope, None)
            for key in [k for k in self._until if k[0] in scopes]:
                del self._until[key]
