"""POST /v1/chat/completions: the OpenAI-compatible chat endpoint, an ASGI app that streams.

The route reads the request and hands the gateway's answer to the streaming transport
(`api/streaming.py`). What every request needs around it is one middleware, `RequestLifecycle`:
a request id on every answer, the caller's key and limits before anything else (a bad key gets
401 whatever the body), and after the last byte the spend, the metrics and the cost records.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mixcore.api.errors import invalid_request
from mixcore.api.streaming import LongAnswer, request_context, send_json
from mixcore.auth.caller import Caller, caller_from_authorizer
from mixcore.container import get_cost_sink, get_gateway, get_store
from mixcore.costs.limits import Spending, check_before_call
from mixcore.errors import InvalidRequest, MixcoreError, PayloadTooLarge
from mixcore.mixes.gateway import ChatResult, StreamResult
from mixcore.mixes.upstream import RequestContext
from mixcore.observability import (
    emit_request_metrics,
    emit_route_metrics,
    emit_sink_metrics,
    flush_metrics,
    logger,
    tracing_enabled,
)
from mixcore.providers.errors import ProviderCoolingDown
from mixcore.schemas import ChatCompletionRequest
from mixcore.settings import get_settings

CHAT_ROUTE = "POST /v1/chat/completions"
SETTLE_ATTEMPTS = 3
# A request's hold outlives its time budget by this much before the next request may give it back.
HOLD_MARGIN_SECONDS = 300


class ClientStoppedReading(Exception):
    """A write to the client waited past `client_write_timeout_seconds`: nobody is reading the answer."""


def new_request_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def adopt_trace_header(scope: Scope) -> None:
    """Behind the Lambda Web Adapter the app is its own process: the invocation's X-Ray trace id reaches it as
    the `x-amzn-trace-id` header, never in `_X_AMZN_TRACE_ID`, which the X-Ray SDK reads. One request at a
    time runs in an execution environment, so setting it per request is safe."""
    for name, value in scope.get("headers") or []:
        if name == b"x-amzn-trace-id":
            os.environ["_X_AMZN_TRACE_ID"] = value.decode("latin-1")
            return


class RequestLifecycle:
    """Pure ASGI middleware around the chat route (streaming responses pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        started = time.monotonic()
        if tracing_enabled():
            adopt_trace_header(scope)
        state = scope.setdefault("state", {})
        answered = {"status": 500}
        write_timeout = get_settings().client_write_timeout_seconds
        after_answer: dict[str, asyncio.Task[None]] = {}

        async def once(step: str, work: Callable[[], Awaitable[None]]) -> None:
            """Runs `work` once per request, to its end even when the awaiting side is cancelled (a client that
            hangs up mid-send must not leave the spend unwritten while the records go out)."""
            if step not in after_answer:
                after_answer[step] = asyncio.ensure_future(work())
            await asyncio.shield(after_answer[step])

        async def settle() -> None:
            """The key's spend, after the client has the last byte and before the response (the invocation)
            ends: a slow table never holds the answer, and a sequential next request sees the spend."""
            ctx: RequestContext | None = state.get("ctx")
            spending = ctx.spending if ctx is not None else None
            if ctx is not None and spending is not None:  # a key without a budget has nothing to write
                await once("settle", lambda: self._settle(ctx, spending))

        async def deliver() -> None:
            await once("deliver", lambda: self._deliver(state, int(answered["status"]), started))

        async def finish() -> None:
            await settle()
            await deliver()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                   (b"x-request-id", request_id.encode())]}
            elif "first_token_ms" not in state and message.get("body", b"").startswith(b"data: "):
                # The first SSE event (keep-alives are comments): what a streaming client waits for.
                state["first_token_ms"] = (time.monotonic() - started) * 1000
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                # The client has every byte before the spend is settled and the costs delivered.
                if message.get("body"):
                    await send({**message, "more_body": True})
                    message = {**message, "body": b""}
                await finish()
            try:
                async with asyncio.timeout(write_timeout):
                    await send(message)
            except TimeoutError:
                logger.warning("client stopped reading; the request ends", extra={"request_id": request_id})
                raise ClientStoppedReading(request_id) from None

        try:
            try:
                state["caller"] = await self._admit(scope)
            except MixcoreError as error:
                await send_json(send_with_id, error.status, error.to_body())
                return
            ctx = state["ctx"] = get_gateway().new_context(state["caller"].key_id, request_id)
            caller: Caller = state["caller"]
            if caller.budget_usd is not None:
                ctx.spending = Spending(get_store(), caller.key_id, caller.budget_usd,
                                        allow_unpriced=caller.allow_unpriced, request_id=request_id,
                                        hold_seconds=int(get_settings().request_budget_seconds) + HOLD_MARGIN_SECONDS)
            try:
                await self.app(scope, receive, send_with_id)
            except ClientStoppedReading:
                return  # the answer's generator was closed: its calls are recorded as cancelled and charged
        finally:
            # A client that went away still has its spend counted and its costs recorded: one shielded task
            # does both, so a second cancellation (the server tearing the request down) cannot stop it between
            # the two and leave the records queued until some later request.
            await asyncio.shield(finish())

    @staticmethod
    async def _admit(scope: Scope) -> Caller:
        """The caller, within its rate limit and budget (401/402/429 before any upstream call)."""
        caller = caller_from_authorizer(request_context(scope).get("authorizer") or {})
        if caller.limited:
            await asyncio.to_thread(check_before_call, get_store(), caller.key_id,
                                    monthly_budget_usd=caller.budget_usd,
                                    requests_per_minute=caller.requests_per_minute)
        return caller

    @staticmethod
    async def _settle(ctx: RequestContext, spending: Spending) -> None:
        """Every billed call of the request counts, whatever its outcome; what it reserved is released. Retried a
        few times (a settle counts once however often it is tried); one never written is given back when its
        hold expires."""
        cost = ctx.record.cost_usd if ctx.record else sum(c.cost_usd or 0.0 for c in ctx.calls)
        for attempt in range(SETTLE_ATTEMPTS):
            try:
                await asyncio.to_thread(spending.settle, cost)
                return
            except Exception:  # counted in the log; the answer itself stands
                logger.exception("recording a key's spend failed", extra={"request_id": ctx.request_id,
                                                                           "attempt": attempt + 1})
                if attempt + 1 < SETTLE_ATTEMPTS:  # no wait after the last try: the costs are delivered next
                    await asyncio.sleep(0.2 * 2 ** attempt)

    @staticmethod
    async def _deliver(state: dict[str, Any], status: int, started: float) -> None:
        ctx: RequestContext | None = state.get("ctx")
        try:
            delivery = await asyncio.to_thread(get_cost_sink().flush)
            latency_ms = (time.monotonic() - started) * 1000
            attempts = ctx.attempts if ctx else []
            emit_request_metrics(ctx.record if ctx else None, status=status, latency_ms=latency_ms,
                                 first_token_ms=state.get("first_token_ms"),
                                 cooldown_skips=sum(1 for a in attempts if a.get("error") == ProviderCoolingDown.kind))
            emit_route_metrics(CHAT_ROUTE, status=status, latency_ms=latency_ms)
            emit_sink_metrics(delivery)
            flush_metrics()
        except Exception:  # nothing after the answer may turn into an error for it
            logger.exception("after-response work failed", extra={"request_id": ctx.request_id if ctx else None})


async def read_chat_request(request: Request) -> ChatCompletionRequest:
    """The body as a ChatCompletionRequest: 413 past the size limit, 400 for anything malformed."""
    limit = get_settings().max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    try:
        body = ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as error:
        raise invalid_request(error.errors(include_url=False)) from error
    if b"\\ud" in raw.lower():  # a \uD800-\uDFFF escape: fine in a pair, unencodable alone
        try:
            json.dumps(body.upstream_params(), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidRequest("The request contains a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape "
                                 "without its pair), which is not text any provider accepts.",
                                 code="invalid_unicode") from error
    return body


async def chat_completions(request: Request) -> Response | LongAnswer:
    body = await read_chat_request(request)
    ctx: RequestContext = request.state.ctx
    gateway = get_gateway()
    settings = get_settings()

    async def answer() -> ChatResult | StreamResult:
        if body.stream:
            return await gateway.stream(body, ctx)
        return await gateway.complete(body, ctx)

    return LongAnswer(answer, stream=body.stream, keepalive=settings.keepalive_seconds,
                      grace=settings.stream_commit_seconds if body.stream else settings.json_commit_seconds)


async def _domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, MixcoreError)
    return JSONResponse(error.to_body(), status_code=error.status)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    logger.exception("unhandled error in the chat route")
    return JSONResponse({"error": {"message": "Internal error; the request id is in the x-request-id header.",
                                   "type": "server_error", "param": None, "code": "internal_error"}},
                        status_code=500)


async def not_found(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": {"message": f"No route for {request.method} {request.url.path}.",
                                   "type": "invalid_request_error", "param": None, "code": "not_found"}},
                        status_code=404)


async def health(request: Request) -> Response:
    """The web adapter's readiness check (never reached through API Gateway)."""
    return JSONResponse({"ok": True})


def build_chat_app() -> Starlette:
    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"]),
                             Route("/healthz", health, methods=["GET"])],
                     middleware=[Middleware(RequestLifecycle)],
                     exception_handlers={MixcoreError: _domain_error, Exception: _unexpected_error,
                                         404: not_found, 405: not_found})
