"""Calls providers over one pooled async httpx client: timeouts, retries with backoff, typed errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import weakref
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from typing import Any, Protocol

import httpx
from httpx_sse import EventSource

from mixcore.catalog.models import ReasoningSettings
from mixcore.providers.anthropic import AnthropicProtocol
from mixcore.providers.config import ProviderConfig
from mixcore.providers.errors import (
    MIN_SECRET_LENGTH,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamInvalidResponse,
    UpstreamTimeout,
    error_for_status,
    error_message_from_body,
    parse_retry_after,
)
from mixcore.providers.openai_compat import OpenAIProtocol
from mixcore.providers.tokens import answer_texts, estimated_usage, message_output_texts
from mixcore.providers.types import Completion, StreamState, Usage
from mixcore.settings import Settings, get_settings

# A provider's stream as OpenAI chat.completion.chunk objects; closing it closes the connection.
Chunks = AsyncGenerator[dict[str, Any], None]


class StreamTranslator(Protocol):
    """Turns one protocol's stream events into OpenAI chunks, keeping the usage it reports aside."""

    usage: Usage | None
    done: bool

    def feed(self, event: str, data: str) -> list[dict[str, Any]]: ...


class WireProtocol(Protocol):
    """How one provider API shapes requests and answers (OpenAI chat completions, Anthropic messages)."""

    name: str

    def request(self, provider: ProviderConfig, model: str, params: dict[str, Any], stream: bool, *,
                reasoning: ReasoningSettings | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and body of one call; `reasoning` is the catalog variant's settings, sent as this
        protocol (and provider) spells them."""

    def parse_completion(self, body: Any) -> tuple[dict[str, Any], Usage | None]: ...

    def stream_translator(self) -> StreamTranslator: ...


class ChatClient(Protocol):
    """The seam the mixes call providers through; `ProviderClient` is the httpx implementation."""

    async def complete(self, provider: ProviderConfig, model: str, params: dict[str, Any], *,
                       deadline: float, reasoning: ReasoningSettings | None = None) -> Completion: ...

    def stream(self, provider: ProviderConfig, model: str, params: dict[str, Any], *, deadline: float,
               state: StreamState, first_chunk_deadline: float | None = None,
               reasoning: ReasoningSettings | None = None, between_tokens: float | None = None) -> Chunks: ...


PROTOCOLS: dict[str, WireProtocol] = {"openai": OpenAIProtocol(), "anthropic": AnthropicProtocol()}
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
USER_AGENT = "mixcore/0.1 (+https://github.com/mixcore)"


@contextlib.contextmanager
def httpx_errors_as_upstream(timeout_message: str) -> Iterator[None]:
    """The one translation of transport exceptions into typed upstream errors.

    - `TimeoutError` (our deadlines) and `httpx.TimeoutException` → `UpstreamTimeout`
    - `httpx.TransportError` (connect, read, write, protocol errors) and `httpx.StreamError`
      → `UpstreamConnectionError` (retryable)
    """
    try:
        yield
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise UpstreamTimeout(timeout_message) from exc
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise UpstreamConnectionError(f"{type(exc).__name__}: {exc}") from exc


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=60)
    return httpx.AsyncClient(timeout=timeout, limits=limits, headers={"user-agent": USER_AGENT})


class ProviderClient:
    """Sends one logical call to one provider, retrying 429/5xx/connection errors within a deadline."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._first: httpx.AsyncClient | None = http
        # One pool per event loop: a pool's connections belong to the loop that opened them. A Lambda
        # container has one loop; the local stack and the benchmarks may drive the gateway from two.
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())

    @property
    def http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool, self._first = (self._first or build_http_client(self.settings)), None
            self._pools[loop] = pool
        return pool

    def _remaining(self, deadline: float) -> float:
        return deadline - time.monotonic()

    @property
    def _timeout(self) -> httpx.Timeout:
        """Only the connection has a timeout of its own: every wait after it is under the call's deadline (a long
        answer may take minutes to start; a stream's pauses are bounded by the model's limit)."""
        return httpx.Timeout(None, connect=self.settings.upstream_connect_timeout_seconds)

    async def _backoff(self, error: UpstreamError, attempt: int, deadline: float) -> bool:
        """Sleep before retry `attempt`; False when no retry fits before the deadline."""
        if not error.retryable or attempt > self.settings.upstream_max_retries:
            return False
        delay = self.settings.retry_backoff_seconds * (2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        if error.retry_after is not None:
            if error.retry_after > self.settings.max_retry_after_seconds:
                return False
            delay = max(delay, error.retry_after)
        if delay >= self._remaining(deadline) - 0.05:
            return False
        await asyncio.sleep(delay)
        return True

    async def _read_error(self, response: httpx.Response, provider: ProviderConfig, model: str) -> UpstreamError:
        raw = await response.aread()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        text = raw[:500].decode("utf-8", "replace")
        message = error_message_from_body(body, text or f"HTTP {response.status_code}")
        return error_for_status(response.status_code, message, provider=provider.name, model=model,
                                retry_after=parse_retry_after(response.headers.get("retry-after")))

    async def complete(self, provider: ProviderConfig, model: str, params: dict[str, Any], *,
                       deadline: float, reasoning: ReasoningSettings | None = None) -> Completion:
        protocol = PROTOCOLS[provider.protocol]
        url, headers, body = protocol.request(provider, model, params, stream=False, reasoning=reasoning)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._complete_once(provider, model, params, url, headers, body, deadline,
                                                 started, attempt - 1)
            except UpstreamError as error:
                scrub(error, provider, model)
                if not await self._backoff(error, attempt, deadline):
                    raise

    async def _complete_once(self, provider: ProviderConfig, model: str, params: dict[str, Any], url: str,
                             headers: dict[str, str], body: dict[str, Any], deadline: float, started: float,
                             retries: int) -> Completion:
        protocol = PROTOCOLS[provider.protocol]
        remaining = self._remaining(deadline)
        if remaining <= 0:
            raise UpstreamTimeout("request time budget exhausted before the call")
        with httpx_errors_as_upstream(f"no complete answer within {remaining:.1f}s"):
            async with asyncio.timeout(remaining), self.http.stream("POST", url, headers=headers, json=body,
                                                                    timeout=self._timeout) as response:
                if response.status_code != 200:
                    raise await self._read_error(response, provider, model)
                raw = bytearray()
                async for piece in response.aiter_bytes():
                    raw.extend(piece)
                    if len(raw) > MAX_RESPONSE_BYTES:
                        raise UpstreamInvalidResponse(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        secret = echoable_key(provider).encode()
        if secret and secret in raw:  # an upstream echoing our key to a client
            raw = bytearray(raw.replace(secret, b"[redacted]"))
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise UpstreamInvalidResponse(f"response is not JSON: {bytes(raw[:80])!r}") from exc
        if isinstance(payload, dict) and "error" in payload and "choices" not in payload and "content" not in payload:
            raise error_for_status(502, error_message_from_body(payload, "error body with status 200"),
                                   provider=provider.name, model=model)
        if secret:  # the key written with JSON escapes (\u002d...) is the key once decoded
            payload = redacted(payload, secret.decode())
        completion, usage = protocol.parse_completion(payload)
        if usage is None:
            usage = estimated_usage(params, model, answer_texts(completion))
        return Completion(body=completion, usage=usage, latency_ms=(time.monotonic() - started) * 1000,
                          retries=retries)

    async def stream(self, provider: ProviderConfig, model: str, params: dict[str, Any], *, deadline: float,
                     state: StreamState, first_chunk_deadline: float | None = None,
                     reasoning: ReasoningSettings | None = None, between_tokens: float | None = None) -> Chunks:
        """Yield OpenAI-shaped chunks. Retries happen only before the first chunk is yielded.

        The first chunk must arrive by `first_chunk_deadline` (a fallback chain's per-attempt cap);
        the rest of the stream may run until `deadline`, pausing at most `between_tokens` (else the
        gateway's upstream timeout) between events.
        """
        first_deadline = min(deadline, first_chunk_deadline or deadline)
        protocol = PROTOCOLS[provider.protocol]
        url, headers, body = protocol.request(provider, model, params, stream=True, reasoning=reasoning)
        attempt = 0
        while True:
            attempt += 1
            yielded = False
            try:
                async with aclosing(self._stream_once(provider, model, url, headers, body, deadline, state,
                                                      first_deadline, between_tokens)) as chunks:
                    async for chunk in chunks:
                        yielded = True
                        yield chunk
                break
            except UpstreamError as error:
                scrub(error, provider, model)
                if yielded or not await self._backoff(error, attempt, first_deadline):
                    raise
                state.retries += 1
        if state.usage is None:
            state.usage = estimated_usage(params, model, state.output_parts)

    async def _stream_once(self, provider: ProviderConfig, model: str, url: str, headers: dict[str, str],
                           body: dict[str, Any], deadline: float, state: StreamState,
                           first_deadline: float, between_tokens: float | None) -> Chunks:
        pause = between_tokens or self.settings.upstream_timeout_seconds
        begun = False
        translator = PROTOCOLS[provider.protocol].stream_translator()
        current_deadline = first_deadline
        secret = echoable_key(provider)
        with httpx_errors_as_upstream("stream stalled past the time budget"):
            # Every read, the error body of a refused stream included, is under a deadline.
            async with asyncio.timeout(self._remaining(current_deadline)):
                response = await self.http.send(
                    self.http.build_request("POST", url, headers=headers, json=body, timeout=self._timeout),
                    stream=True)
                if response.status_code != 200:
                    try:
                        raise await self._read_error(response, provider, model)
                    finally:
                        await response.aclose()
                content_type = response.headers.get("content-type", "")
                if "text/event-stream" not in content_type:
                    try:
                        raw = (await response.aread())[:80]
                    finally:
                        await response.aclose()
                    raise UpstreamInvalidResponse(
                        f"expected an event stream, got {content_type or 'no content type'}: {raw!r}")
            try:
                events = EventSource(response).aiter_sse().__aiter__()
                while not translator.done:
                    try:
                        async with asyncio.timeout(self._remaining(current_deadline)):
                            event = await events.__anext__()
                    except StopAsyncIteration:
                        break
                    data = event.data
                    if secret and secret in data:
                        data = data.replace(secret, "[redacted]")
                    for chunk in translator.feed(event.event, data):
                        if secret:
                            chunk = redacted(chunk, secret)
                        for choice in chunk.get("choices", []):
                            delta = choice.get("delta") or {}
                            content = delta.get("content")
                            if content:
                                state.text_parts.append(content)
                            state.output_parts.extend(message_output_texts(delta))
                            if choice.get("finish_reason"):
                                state.finish_reason = choice["finish_reason"]
                        begun = True
                        yield chunk
                    if begun:  # once the answer has begun, every event (a token, a ping) must come within `pause`
                        current_deadline = min(deadline, time.monotonic() + pause)
            finally:
                await response.aclose()
        if not translator.done and state.finish_reason is None:
            raise UpstreamConnectionError("stream ended before its final event")
        state.usage = translator.usage


def redacted(value: Any, secret: str) -> Any:
    """`value` (decoded JSON) with the secret replaced in every string and key: an upstream can escape it in
    the bytes, so the bytes alone are not enough."""
    if isinstance(value, str):
        return value.replace(secret, "[redacted]") if secret in value else value
    if isinstance(value, dict):
        return {redacted(k, secret): redacted(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, secret) for v in value]
    return value


def echoable_key(provider: ProviderConfig) -> str:
    """The provider's key, redacted by value from answers it sends back; "" for a placeholder too short to."""
    key = provider.api_key or ""
    return key if len(key) >= MIN_SECRET_LENGTH else ""


def scrub(error: UpstreamError, provider: ProviderConfig, model: str) -> None:
    """Every upstream error passes here: it names its provider, and the provider's key never survives in it."""
    error.provider, error.model = provider.name, model
    error.scrub(provider.api_key or "")

