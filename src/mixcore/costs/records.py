"""The CostRecord schema (versioned): one record per request, one line per upstream call."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mixcore.catalog.models import Price
from mixcore.model import Model

COST_RECORD_VERSION = 1
CallOutcome = Literal["ok", "error", "skipped", "dropped", "cancelled"]


class CallLine(Model):
    provider: str
    model: str
    layer: int = 0
    role: str = "answer"
    outcome: CallOutcome = "ok"
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    beyond_bounds: bool = Field(default=False, description="the provider billed more than the call's bounds: "
                                "charged as billed")
    price: Price | None = None
    cost_usd: float | None = None
    cost_note: str | None = None
    latency_ms: float = 0.0
    retries: int = 0


class CostRecord(Model):
    version: int = COST_RECORD_VERSION
    request_id: str
    time: str
    key_id: str | None
    mix_id: str | None
    model: str | None = Field(default=None, description="the model that produced the final answer")
    stream: bool = False
    status: int = 200
    calls: list[CallLine] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_complete: bool = True
    latency_ms: float = 0.0
    catalog_version: str | None = Field(default=None, description="the catalog version whose prices were used")
    route: dict[str, Any] | None = Field(default=None, description="a route mix's decision: router, score, "
                                         "threshold, side (what `mixcore route calibrate` replays)")

    def finalise(self) -> CostRecord:
        self.prompt_tokens = sum(c.prompt_tokens for c in self.calls)
        self.completion_tokens = sum(c.completion_tokens for c in self.calls)
        self.cost_usd = round(sum(c.cost_usd or 0.0 for c in self.calls), 10)
        self.cost_complete = all(c.cost_usd is not None for c in self.calls if c.outcome in ("ok", "dropped")
                                 or c.prompt_tokens or c.completion_tokens)
        return self

    def to_json_line(self) -> bytes:
        return (self.model_dump_json() + "\n").encode()
