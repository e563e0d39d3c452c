"""Plans: what a request's `model` resolves to before anything is called."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mixcore.mixes.chain import OpenStream
from mixcore.mixes.upstream import Candidate, RequestContext
from mixcore.providers.types import Completion
from mixcore.schemas import MixOverrides

# A composite mix's steps, given the request's context and its upstream parameters.
Runner = Callable[[RequestContext, dict[str, Any]], Awaitable[tuple[Candidate, Completion]]]
StreamRunner = Callable[[RequestContext, dict[str, Any]], Awaitable[OpenStream]]


class MemberResolver(Protocol):
    """Turns a composite mix member (`provider/model`, `index/x`, `index/x#N`) into candidates, under a request's
    `mix` constraints when given."""

    def member_candidates(self, model: str, overrides: MixOverrides | None = None) -> list[Candidate]: ...


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
    runner: Runner | None = None
    stream_runner: StreamRunner | None = None
