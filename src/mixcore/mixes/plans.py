"""Plans: what a request's `model` resolves to before anything is called."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mixcore.mixes.chain import Candidate
from mixcore.providers.types import Completion


@dataclass
class Plan:
    """An ordered fallback chain, with what the mix wants the client to know about its resolution."""

    kind: str
    mix_id: str | None
    candidates: list[Candidate]
    info: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)
    attempt_timeout: float | None = None
    # Composite mixes (synthesis, cascade, vote) run their own steps before the final answer.
    runner: Callable[..., Awaitable[tuple[Candidate, Completion]]] | None = None
    stream_runner: Callable[..., Awaitable[Any]] | None = None
