"""The streaming transport: how a chat answer reaches the client over ASGI.

On AWS the chat route is an ASGI app behind AWS Lambda Web Adapter, invoked through API Gateway's
response-streaming integration; locally the same app runs behind the local stack's gateway. This
is the one module that knows it. It reads the API Gateway request context the adapter forwards in
`x-amzn-request-context`, writes SSE and JSON bodies as they are produced, keeps a connection
alive while no token flows, and turns a client's disconnect into the cancellation of the work
behind the response. When Lambda's Python runtime streams natively, only this module changes.

Keep-alive: if the answer has not started within `grace` seconds, the status (200) and headers go
out, then every `keepalive` seconds an SSE comment line (`: keep-alive`) for a stream, or a
newline for a JSON answer (JSON allows leading whitespace). A failure after that point can no
longer change the status: a stream ends with an OpenAI-shaped `data: {"error": …}` event and
`[DONE]`, a JSON answer's body is the OpenAI error object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from starlette.types import Receive, Scope, Send

from mixcore.errors import MixcoreError
from mixcore.mixes.gateway import ChatResult, StreamResult
from mixcore.observability import logger

REQUEST_CONTEXT_HEADER = b"x-amzn-request-context"
SSE_KEEPALIVE = b": keep-alive\n\n"
JSON_KEEPALIVE = b"\n"


def request_context(scope: Scope) -> dict[str, Any]:
    """The API Gateway request context the adapter forwarded (authorizer context included), or {}."""
    for name, value in scope.get("headers", []):
        if name == REQUEST_CONTEXT_HEADER:
            try:
                parsed = json.loads(value)
            except ValueError:
                return {}
            return parsed if isinstance(parsed, dict) else {}
    return {}


def header_list(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    # Header values are Latin-1 on the wire: other characters are backslash-escaped, CR and LF dropped
    # (a model name can never split or inject a header).
    return [(k.lower().encode("latin-1"), v.encode("latin-1", "backslashreplace").replace(b"\r", b"").replace(
        b"\n", b"")) for k, v in headers.items()]


async def send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": header_list({"content-type": "application/json", "content-length": str(len(data)),
                                        **(headers or {})})})
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class LongAnswer:
    """An ASGI response for a chat answer that may take seconds or minutes to start, or to finish.

    The answer is produced and written by one task. Keep-alives come from a timer, not from a task
    and a timed wait per line: every line would otherwise pay for both, and a stream runs to
    thousands of lines. The timer fires once per quiet interval at most; only when nothing has been
    written for that long does it start a task that writes a keep-alive. Writes are serialised by a
    lock, so a keep-alive never lands inside an event or ahead of the headers.
    """

    def __init__(self, produce: Callable[[], Awaitable[ChatResult | StreamResult]], *, stream: bool,
                 keepalive: float, grace: float) -> None:
        self.produce = produce
        self.stream = stream
        self.keepalive = keepalive
        self.grace = grace
        self.committed = False
        self._writing = asyncio.Lock()
        self._last_write = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._keeping: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        respond = asyncio.ensure_future(self._respond(send))
        listener = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({respond, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listener.cancel()
            if not respond.done():  # the client went away (or we were cancelled): stop the work behind it
                respond.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await respond

    # keep-alives
    def _arm(self, delay: float, send: Send) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_quiet, send)

    def _on_quiet(self, send: Send) -> None:
        quiet = asyncio.get_running_loop().time() - self._last_write
        limit = self.keepalive if self.committed else self.grace
        if quiet < limit:  # something was written since the timer was set: wait out the rest
            self._arm(limit - quiet, send)
        else:
            self._keeping = asyncio.ensure_future(self._keep_alive(send))

    async def _keep_alive(self, send: Send) -> None:
        async with self._writing:
            if not self.committed:
                await self._start(send, {})
            await self._body(send, SSE_KEEPALIVE if self.stream else JSON_KEEPALIVE)
        self._arm(self.keepalive, send)

    def _stop_keeping_alive(self) -> None:
        """Called holding the write lock (or once nothing more is written): a keep-alive is never cut short."""
        if self._timer is not None:
            self._timer.cancel()
        if self._keeping is not None and not self._keeping.done():
            self._keeping.cancel()

    # writing
    async def _start(self, send: Send, headers: dict[str, str]) -> None:
        kind = "text/event-stream" if self.stream else "application/json"
        extra = {"cache-control": "no-cache", "x-accel-buffering": "no"} if self.stream else {}
        self.committed = True
        await send({"type": "http.response.start", "status": 200,
                    "headers": header_list({"content-type": kind, **extra, **headers})})

    async def _body(self, send: Send, data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})
        self._last_write = asyncio.get_running_loop().time()

    async def _respond(self, send: Send) -> None:
        self._last_write = asyncio.get_running_loop().time()
        self._arm(self.grace, send)
        try:
            try:
                result = await self.produce()
            except Exception as error:  # every failure becomes an answer; a cancellation does not
                async with self._writing:
                    self._stop_keeping_alive()
                    await self._fail(send, error)
                return
            if isinstance(result, StreamResult):
                await self._stream(send, result)
            else:
                async with self._writing:
                    self._stop_keeping_alive()
                    await self._complete(send, result)
        finally:
            self._stop_keeping_alive()

    async def _fail(self, send: Send, error: BaseException) -> None:
        if not isinstance(error, MixcoreError):
            logger.error("chat request failed unexpectedly", exc_info=error)
            error = MixcoreError("Internal error; the request id is in the x-request-id header.")
        if not self.committed:
            await send_json(send, error.status, error.to_body())
            return
        payload = json.dumps(error.to_body()).encode()
        if self.stream:
            payload = b"data: " + payload + b"\n\ndata: [DONE]\n\n"
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    async def _complete(self, send: Send, result: ChatResult) -> None:
        data = json.dumps(result.body).encode()
        if not self.committed:
            await send({"type": "http.response.start", "status": 200, "headers": header_list(
                {"content-type": "application/json", "content-length": str(len(data)), **result.headers})})
        await send({"type": "http.response.body", "body": data, "more_body": False})

    async def _stream(self, send: Send, result: StreamResult) -> None:
        async with aclosing(result.lines) as lines:
            async with self._writing:
                if not self.committed:
                    await self._start(send, result.headers)
            async for line in lines:
                async with self._writing:
                    await self._body(send, line.encode())
        async with self._writing:
            self._stop_keeping_alive()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
