"""What the Lambda Web Adapter does with an invocation, in process: an API Gateway event in, an HTTP answer out.

The adapter turns a REST API (v1) proxy event into an HTTP request to the function's web app, with
the event's request context in `x-amzn-request-context`, and streams the app's answer back. Here
the app is an ASGI callable driven directly; each body piece goes to `on_body` as it is written,
and the whole answer comes back in the Lambda proxy response shape.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message


def event_to_scope(event: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The ASGI scope and request body an API Gateway REST (v1) proxy event stands for."""
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode()
    headers = [(str(k).lower().encode("latin-1"), str(v).encode("latin-1"))
               for k, v in (event.get("headers") or {}).items() if not str(k).lower().startswith("x-amzn-")]
    headers.append((b"x-amzn-request-context", json.dumps(event.get("requestContext") or {}).encode()))
    query = urlencode(event.get("queryStringParameters") or {}).encode()
    path = str(event.get("path") or "/")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": str(event.get("httpMethod") or "GET").upper(), "scheme": "https", "path": path,
             "raw_path": path.encode(), "query_string": query, "headers": headers,
             "client": (((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "127.0.0.1",
                        0),
             "server": ("localhost", 443), "state": {}}
    return scope, body


async def invoke_asgi(app: ASGIApp, event: dict[str, Any],
                      on_body: Callable[[bytes], None] | None = None) -> dict[str, Any]:
    """Run one event through the app; the proxy response (`statusCode`, `headers`, `body`)."""
    scope, body = event_to_scope(event)
    finished = asyncio.Event()
    request_sent = False
    status = 500
    headers: dict[str, str] = {}
    pieces: list[bytes] = []

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers.update({k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            piece = bytes(message.get("body", b""))
            if piece:
                pieces.append(piece)
                if on_body is not None:
                    on_body(piece)
            if not message.get("more_body", False):
                finished.set()

    await app(scope, receive, send)
    finished.set()
    return {"statusCode": status, "headers": headers, "body": b"".join(pieces).decode("utf-8", "replace"),
            "isBase64Encoded": False}
