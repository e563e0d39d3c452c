"""The gateway: turns one chat request into upstream calls and one OpenAI-shaped answer with its cost.

Every request ends in exactly one cost record (success, failure or a client that went away),
whose `request_id` is the one the API gave the request and returns in `x-request-id`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from mixcore.costs.records import CallOutcome, CostRecord
from mixcore.costs.sink import CostSink
from mixcore.errors import InvalidRequest, MixcoreError
from mixcore.mixes.chain import OpenStream, complete_first, record_call, stream_first
from mixcore.mixes.index import passed_over
from mixcore.mixes.plans import Plan
from mixcore.mixes.registry import MixRegistry
from mixcore.mixes.upstream import RequestContext, Upstream
from mixcore.observability import logger
from mixcore.providers.errors import UpstreamError, client_safe
from mixcore.providers.types import Usage
from mixcore.schemas import ChatCompletionRequest


@dataclass
class ChatResult:
    """A whole answer. Its cost record is the request context's (`ctx.record`)."""

    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class StreamResult:
    """The SSE lines of an opened stream and the headers known when it opened; the cost record lands in
    `ctx.record` once the lines are exhausted or closed."""

    lines: AsyncGenerator[str, None]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Gateway:
    upstream: Upstream
    registry: MixRegistry
    cost_sink: CostSink

    def new_context(self, key_id: str | None, request_id: str) -> RequestContext:
        return RequestContext(request_id=request_id, key_id=key_id,
                              deadline=time.monotonic() + self.upstream.settings.request_budget_seconds,
                              catalog_version=self.upstream.catalogs.begin_request().version or None)

    def check_limits(self, request: ChatCompletionRequest) -> None:
        settings = self.upstream.settings
        if len(request.messages) > settings.max_messages:
            raise InvalidRequest(f"At most {settings.max_messages} messages are accepted.", param="messages")
        for name in ("max_tokens", "max_completion_tokens"):
            value = getattr(request, name)
            if value is not None and value > settings.max_tokens_cap:
                raise InvalidRequest(f"{name} may be at most {settings.max_tokens_cap}.", param=name)
        if request.n is not None and request.n > settings.max_n:
            raise InvalidRequest(f"n may be at most {settings.max_n}.", param="n")

    # answers
    def _record(self, ctx: RequestContext, plan: Plan | None, model: str | None, *, stream: bool,
                status: int, started: float) -> CostRecord:
        record = CostRecord(request_id=ctx.request_id, time=datetime.now(UTC).isoformat(timespec="milliseconds"),
                            key_id=ctx.key_id, mix_id=plan.mix_id if plan else None, model=model, stream=stream,
                            status=status, calls=list(ctx.calls), catalog_version=ctx.catalog_version,
                            route=plan.info.get("route") if plan else None,
                            latency_ms=round((time.monotonic() - started) * 1000, 2))
        record.finalise()
        ctx.record = record
        try:
            self.cost_sink.add(record)
        except Exception:  # the request path never fails because of cost recording
            logger.exception("cost sink refused a record", extra={"request_id": record.request_id})
        return record

    def mix_info(self, plan: Plan, ctx: RequestContext) -> dict[str, Any]:
        info: dict[str, Any] = {"id": plan.mix_id, "kind": plan.kind, **plan.info, "attempts": ctx.attempts}
        if plan.runner is not None:
            info["calls"] = describe_calls(ctx)
        # Only what was passed over on the way to the candidate that answered (every skip when none did).
        answered = next((a["model"] for a in reversed(ctx.attempts) if a.get("outcome") == "ok"), None)
        ids = [c.model_id for c in plan.candidates]
        skipped = passed_over(plan.skipped, ids.index(answered) if answered in ids else None)
        if skipped:
            info["skipped"] = skipped
        if ctx.budget_notes:
            info["budget"] = ctx.budget_notes
        return info

    @staticmethod
    def usage_of(record: CostRecord) -> dict[str, Any]:
        usage = Usage(prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
                      cached_tokens=sum(c.cached_tokens for c in record.calls)).to_openai()
        usage["cost"] = record.cost_usd if record.cost_complete else None
        if any(c.estimated for c in record.calls):
            usage["estimated"] = True
        return usage

    @staticmethod
    def headers(plan: Plan, ctx: RequestContext, model: str | None, record: CostRecord) -> dict[str, str]:
        # Never a silent 0: a cost the catalog cannot price is said to be unknown.
        headers = {"x-mix-attempts": str(len(ctx.attempts)),
                   "x-mix-cost-usd": f"{record.cost_usd:.8f}" if record.cost_complete else "unknown"}
        if plan.mix_id:
            headers["x-mix-id"] = plan.mix_id
        if model:
            headers["x-mix-model"] = model
        headers.update(budget_headers(ctx))
        return headers

    def _begin(self, request: ChatCompletionRequest, ctx: RequestContext) -> tuple[Plan, dict[str, Any]]:
        self.check_limits(request)
        plan = self.registry.plan(request, ctx.key_id)
        client = request.upstream_params()
        ctx.client_fields = frozenset(client)
        if not plan.defaults:
            return plan, client
        # A mix's defaults pass the checks a client's fields pass: they are sent, and billed, the same way.
        try:
            merged = ChatCompletionRequest.model_validate({**request.model_dump(exclude_none=True),
                                                           **{k: v for k, v in plan.defaults.items()
                                                              if k not in client}})
        except ValidationError as error:
            raise InvalidRequest(f"The mix {plan.mix_id}'s defaults are not a valid request: "
                                 f"{error.errors(include_url=False)[0]['msg']}", param="model") from error
        self.check_limits(merged)
        return plan, merged.upstream_params()

    async def complete(self, request: ChatCompletionRequest, ctx: RequestContext) -> ChatResult:
        started = time.monotonic()
        plan: Plan | None = None
        try:
            plan, params = self._begin(request, ctx)
            if plan.runner is not None:
                candidate, completion = await plan.runner(ctx, params)
            else:
                candidate, completion = await complete_first(self.upstream, ctx, plan.candidates, params,
                                                             what=plan.mix_id or request.model,
                                                             attempt_timeout=plan.attempt_timeout)
        except MixcoreError as error:
            self._record(ctx, plan, None, stream=False, status=error.status, started=started)
            raise
        except asyncio.CancelledError:
            self._record(ctx, plan, None, stream=False, status=499, started=started)
            raise
        record = self._record(ctx, plan, candidate.model_id, stream=False, status=200, started=started)
        body = dict(completion.body)
        body.update(id=ctx.request_id, object="chat.completion", model=candidate.model_id,
                    usage=self.usage_of(record), mix=self.mix_info(plan, ctx))
        body.setdefault("created", int(time.time()))
        return ChatResult(body=body, headers=self.headers(plan, ctx, candidate.model_id, record))

    async def stream(self, request: ChatCompletionRequest, ctx: RequestContext) -> StreamResult:
        """Open the stream (falling back before the first chunk); errors before that raise."""
        started = time.monotonic()
        plan: Plan | None = None
        try:
            plan, params = self._begin(request, ctx)
            if plan.stream_runner is not None:
                opened = await plan.stream_runner(ctx, params)
            else:
                opened = await stream_first(self.upstream, ctx, plan.candidates, params,
                                            what=plan.mix_id or request.model, attempt_timeout=plan.attempt_timeout)
        except MixcoreError as error:
            self._record(ctx, plan, None, stream=True, status=error.status, started=started)
            raise
        except asyncio.CancelledError:
            self._record(ctx, plan, None, stream=True, status=499, started=started)
            raise
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        headers = {"x-mix-model": opened.candidate.model_id, **budget_headers(ctx)}
        if plan.mix_id:
            headers["x-mix-id"] = plan.mix_id
        return StreamResult(lines=self._sse(plan, ctx, opened, include_usage, started), headers=headers)

    def _finish_stream(self, plan: Plan, ctx: RequestContext, opened: OpenStream, started: float,
                       outcome: CallOutcome, error: str | None, status: int) -> CostRecord:
        if not opened.recorded:
            # Cut off before the provider reported usage, or reported nonsense: estimated from the text.
            record_call(self.upstream, ctx, opened.candidate, usage=opened.usage(),
                        latency_ms=(time.monotonic() - opened.started) * 1000, outcome=outcome, error=error,
                        retries=opened.state.retries, layer=opened.layer, role=opened.role, bounds=opened.bounds)
        return self._record(ctx, plan, opened.candidate.model_id, stream=True, status=status, started=started)

    async def _sse(self, plan: Plan, ctx: RequestContext, opened: OpenStream, include_usage: bool,
                   started: float) -> AsyncGenerator[str, None]:
        model = opened.candidate.model_id
        created = int(time.time())
        error: UpstreamError | None = None
        told = False
        try:
            async with aclosing(opened.chunks) as chunks:
                async for chunk in chunks:
                    chunk.update(id=ctx.request_id, model=model, created=created, object="chat.completion.chunk")
                    chunk.pop("usage", None)
                    if not told:  # the first chunk says why this model answers, and what a budget changed
                        told = True
                        early = {k: v for k, v in (("route", plan.info.get("route")), ("budget", ctx.budget_notes))
                                 if v}
                        if early:
                            chunk["mix"] = early
                    yield sse(chunk)
        except UpstreamError as exc:
            error = exc
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away: the upstream stream is closed, and what it cost is still recorded.
            self._finish_stream(plan, ctx, opened, started, "cancelled", "client_disconnected", 499)
            raise
        record = self._finish_stream(plan, ctx, opened, started, "error" if error else "ok",
                                     error.kind if error else None, 502 if error else 200)
        if error is not None:
            ctx.attempts[-1].update(outcome="error", error=error.kind, message=client_safe(error.message))
            yield sse({"error": {"message": f"The stream from {model} broke off: {client_safe(error.message, 500)}",
                                 "type": "upstream_error", "param": None, "code": error.kind}})
        elif include_usage:
            yield sse({"id": ctx.request_id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [], "usage": self.usage_of(record), "mix": self.mix_info(plan, ctx)})
        yield "data: [DONE]\n\n"


CALL_FIELDS_SHOWN = {"layer", "role", "provider", "model", "outcome", "error", "prompt_tokens", "completion_tokens",
                     "cost_usd", "latency_ms"}


def budget_headers(ctx: RequestContext) -> dict[str, str]:
    """`x-mix-max-tokens` when a budget lowered the output cap: the cap the answer had."""
    if not ctx.budget_notes:
        return {}
    return {"x-mix-max-tokens": str(ctx.budget_notes[-1]["max_tokens_sent"])}


def describe_calls(ctx: RequestContext) -> list[dict[str, Any]]:
    return [line.model_dump(mode="json", include=CALL_FIELDS_SHOWN) for line in ctx.calls]


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
