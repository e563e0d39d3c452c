"""The gateway: turns one chat request into upstream calls and one OpenAI-shaped answer with its cost."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mixcore.api.schemas import ChatCompletionRequest
from mixcore.catalog import Catalog
from mixcore.costs.records import CostRecord
from mixcore.costs.sink import CostSink
from mixcore.errors import InvalidRequest, MixcoreError, ModelNotFound
from mixcore.mixes.chain import Candidate, RequestContext, complete_first, record_call, stream_first
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.plans import Plan
from mixcore.providers.client import ProviderClient
from mixcore.providers.config import ProviderConfig
from mixcore.providers.errors import UpstreamError
from mixcore.providers.types import Usage
from mixcore.settings import Settings

logger = logging.getLogger(__name__)
MixResolver = Callable[[str, ChatCompletionRequest], Plan | None]


@dataclass
class ChatResult:
    body: dict[str, Any]
    headers: dict[str, str]
    record: CostRecord


@dataclass
class StreamResult:
    """SSE lines, then (once exhausted) the headers and cost record of the whole stream."""

    lines: AsyncIterator[str]
    headers: dict[str, str] = field(default_factory=dict)
    record: CostRecord | None = None


def new_request_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


@dataclass
class Gateway:
    settings: Settings
    providers: dict[str, ProviderConfig]
    client: ProviderClient
    catalog: Catalog
    cooldowns: Cooldowns
    cost_sink: CostSink
    mix_resolvers: list[MixResolver] = field(default_factory=list)
    registry: Any = None

    # resolution
    def direct_candidate(self, model: str) -> Candidate:
        provider, sep, api_model = model.partition("/")
        if not sep or not api_model or provider not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise ModelNotFound(f"The model {model!r} does not exist. Use a mix id (see GET /v1/models) or "
                                f"'provider/model' with a provider among: {known}.", param="model")
        entry = self.catalog.get(model)
        return Candidate(model_id=model, provider=provider, api_model=entry.api_model if entry else api_model)

    def plan(self, request: ChatCompletionRequest) -> Plan:
        for resolver in self.mix_resolvers:
            plan = resolver(request.model, request)
            if plan is not None:
                return plan
        candidates = [self.direct_candidate(request.model)]
        candidates += [self.direct_candidate(m) for m in request.models or [] if m != request.model]
        return Plan(kind="direct", mix_id=None, candidates=candidates)

    def new_context(self, key_id: str | None) -> RequestContext:
        return RequestContext(request_id=new_request_id(), key_id=key_id,
                              deadline=time.monotonic() + self.settings.request_budget_seconds)

    def check_limits(self, request: ChatCompletionRequest) -> None:
        if len(request.messages) > self.settings.max_messages:
            raise InvalidRequest(f"At most {self.settings.max_messages} messages are accepted.", param="messages")
        for name in ("max_tokens", "max_completion_tokens"):
            value = getattr(request, name)
            if value is not None and value > self.settings.max_tokens_cap:
                raise InvalidRequest(f"{name} may be at most {self.settings.max_tokens_cap}.", param=name)
        if request.n is not None and request.n > self.settings.max_n:
            raise InvalidRequest(f"n may be at most {self.settings.max_n}.", param="n")

    # answers
    def _record(self, ctx: RequestContext, plan: Plan, model: str | None, *, stream: bool,
                status: int, started: float) -> CostRecord:
        record = CostRecord(request_id=ctx.request_id, time=datetime.now(UTC).isoformat(timespec="milliseconds"),
                            key_id=ctx.key_id, mix_id=plan.mix_id, model=model, stream=stream, status=status,
                            calls=list(ctx.calls), latency_ms=round((time.monotonic() - started) * 1000, 2))
        record.finalise()
        try:
            self.cost_sink.add(record)
        except Exception:  # the request path never fails because of cost recording
            logger.exception("cost sink refused a record", extra={"request_id": record.request_id})
        return record

    def mix_info(self, plan: Plan, ctx: RequestContext) -> dict[str, Any]:
        info: dict[str, Any] = {"id": plan.mix_id, "kind": plan.kind, **plan.info, "attempts": ctx.attempts}
        if plan.runner is not None:
            from mixcore.mixes.composite import describe_calls

            info["calls"] = describe_calls(ctx)
        if plan.skipped:
            info["skipped"] = plan.skipped
        return info

    def usage_of(self, record: CostRecord) -> dict[str, Any]:
        usage = Usage(prompt_tokens=record.prompt_tokens, completion_tokens=record.completion_tokens,
                      cached_tokens=sum(c.cached_tokens for c in record.calls)).to_openai()
        usage["cost"] = record.cost_usd if record.cost_complete else None
        if any(c.estimated for c in record.calls):
            usage["estimated"] = True
        return usage

    def headers(self, plan: Plan, ctx: RequestContext, model: str | None, record: CostRecord) -> dict[str, str]:
        headers = {"x-request-id": ctx.request_id, "x-mix-attempts": str(len(ctx.attempts)),
                   "x-mix-cost-usd": f"{record.cost_usd:.8f}"}
        if plan.mix_id:
            headers["x-mix-id"] = plan.mix_id
        if model:
            headers["x-mix-model"] = model
        return headers

    def _begin(self, request: ChatCompletionRequest,
               key_id: str | None) -> tuple[float, Plan, RequestContext, dict[str, Any]]:
        started = time.monotonic()
        self.check_limits(request)
        plan = self.plan(request)
        return started, plan, self.new_context(key_id), {**plan.defaults, **request.upstream_params()}

    async def complete(self, request: ChatCompletionRequest, key_id: str | None) -> ChatResult:
        started, plan, ctx, params = self._begin(request, key_id)
        try:
            if plan.runner is not None:
                candidate, completion = await plan.runner(self, ctx, params)
            else:
                candidate, completion = await complete_first(self, ctx, plan.candidates, params,
                                                             what=plan.mix_id or request.model,
                                                             attempt_timeout=plan.attempt_timeout)
        except MixcoreError as error:
            self._record(ctx, plan, None, stream=False, status=error.status, started=started)
            raise
        record = self._record(ctx, plan, candidate.model_id, stream=False, status=200, started=started)
        body = dict(completion.body)
        body.update(id=ctx.request_id, object="chat.completion", model=candidate.model_id,
                    usage=self.usage_of(record), mix=self.mix_info(plan, ctx))
        body.setdefault("created", int(time.time()))
        return ChatResult(body=body, headers=self.headers(plan, ctx, candidate.model_id, record), record=record)

    async def stream(self, request: ChatCompletionRequest, key_id: str | None) -> StreamResult:
        """Open the stream (falling back before the first chunk); errors before that raise."""
        started, plan, ctx, params = self._begin(request, key_id)
        try:
            if plan.stream_runner is not None:
                opened = await plan.stream_runner(self, ctx, params)
            else:
                opened = await stream_first(self, ctx, plan.candidates, params, what=plan.mix_id or request.model,
                                            attempt_timeout=plan.attempt_timeout)
        except MixcoreError as error:
            self._record(ctx, plan, None, stream=True, status=error.status, started=started)
            raise
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        result = StreamResult(lines=_empty())
        result.lines = self._sse(plan, ctx, opened, include_usage, started, result)
        return result

    async def _sse(self, plan: Plan, ctx: RequestContext, opened: Any, include_usage: bool, started: float,
                   result: StreamResult) -> AsyncIterator[str]:
        model = opened.candidate.model_id
        created = int(time.time())
        error: UpstreamError | None = None
        try:
            async for chunk in opened.chunks:
                chunk.update(id=ctx.request_id, model=model, created=created, object="chat.completion.chunk")
                chunk.pop("usage", None)
                yield sse(chunk)
        except UpstreamError as exc:
            error = exc
        latency = (time.monotonic() - opened.started) * 1000
        if not opened.recorded:
            record_call(self, ctx, opened.candidate, usage=opened.state.usage, latency_ms=latency,
                        outcome="error" if error else "ok", error=error.kind if error else None,
                        retries=opened.state.retries, layer=opened.layer, role=opened.role)
        record = self._record(ctx, plan, model, stream=True, status=502 if error else 200, started=started)
        result.headers = self.headers(plan, ctx, model, record)
        result.record = record
        if error is not None:
            ctx.attempts[-1].update(outcome="error", error=error.kind, message=error.message[:200])
            yield sse({"error": {"message": f"The stream from {model} broke off: {error.message}",
                                 "type": "upstream_error", "param": None, "code": error.kind}})
        elif include_usage:
            yield sse({"id": ctx.request_id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [], "usage": self.usage_of(record), "mix": self.mix_info(plan, ctx)})
        yield "data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def _empty() -> AsyncIterator[str]:
    return
    yield  # pragma: no cover
