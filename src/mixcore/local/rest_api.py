"""A local stand-in for the REST API: HTTP requests reach the real functions as API Gateway would send them.

Routes, the authorizer and API Gateway's own answers come from the API's DefinitionBody in
template.yaml. Like API Gateway, a request without the Authorization header on an authorized route
gets the UNAUTHORIZED gateway response and a key the authorizer denies gets ACCESS_DENIED, without
reaching any function. A buffered route becomes a REST (v1) proxy event for its Lambda handler; a
streaming route is forwarded as HTTP to the function's ASGI app, with the request context in
`x-amzn-request-context`, as the Lambda Web Adapter does, and its answer streams back as it comes.

As on AWS, the authorizer's answer is cached per Authorization header for the template's
`authorizerResultTtlInSeconds`, and API Gateway's `FlushStageAuthorizersCache` call
(`DELETE /restapis/{id}/stages/{stage}/cache/authorizers`, what `mixcore keys revoke` sends) empties
it; an integration that outlasts its `timeoutInMillis` (29 s when unset) is cut, with the
INTEGRATION_TIMEOUT gateway response if nothing was sent yet. Every gateway response carries
`x-request-id`, as the template maps it from `$context.requestId`.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mixcore.local.template import FunctionDef, Route, Template

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
STAGE = "api"
API_ID = "local"
_FLUSH_AUTHORIZERS = re.compile(r"^/restapis/([^/]+)/stages/([^/]+)/cache/authorizers$")
_ASGI_TARGET = re.compile(r"(\w+):(\w+)\s*$")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def _load_module(root: Path, function: FunctionDef, module_name: str) -> Any:
    path = root / function.code_uri / f"{module_name.replace('.', '/')}.py"
    unique = f"mixcore_local_fn_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module


def load_handler(root: Path, function: FunctionDef) -> Handler:
    """Import a function's handler from its CodeUri the way the Lambda runtime would."""
    module_name, _, attribute = function.handler.rpartition(".")
    handler: Handler = getattr(_load_module(root, function, module_name), attribute)
    return handler


def load_asgi_app(root: Path, function: FunctionDef) -> ASGIApp:
    """The ASGI app a web-adapter function's start script (its Handler, e.g. run.sh) serves."""
    script = (root / function.code_uri / function.handler).read_text()
    target = next((m for line in script.splitlines() if (m := _ASGI_TARGET.search(line))), None)
    if target is None:
        raise ImportError(f"{function.handler} of {function.logical_id} names no module:app to serve")
    app: ASGIApp = getattr(_load_module(root, function, target.group(1)), target.group(2))
    return app


def is_web_adapter_function(function: FunctionDef) -> bool:
    return "AWS_LWA_INVOKE_MODE" in function.environment


def rest_event(route: Route, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
               request_context: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event for a request."""
    query_pairs = parse_qsl(query, keep_blank_values=True)
    event: dict[str, Any] = {
        "resource": route.path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query_pairs) or None,
        "multiValueQueryStringParameters": {k: [v for kk, v in query_pairs if kk == k] for k, _ in query_pairs}
        or None, "pathParameters": params or None, "stageVariables": None, "requestContext": request_context,
        "body": None, "isBase64Encoded": False}
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


class LocalRestApi:
    """An ASGI app: routing, the authorizer, and the translation to what each function expects."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.functions = template.functions()
        self.routes: list[Route] = template.routes()
        self.authorizer = template.authorizer_function()
        self.gateway_responses = template.gateway_responses()
        self.authorizer_ttl = template.authorizer_ttl_seconds()
        self._authorizer_cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._handlers: dict[str, Handler] = {}
        self._apps: dict[str, ASGIApp] = {}

    def handler(self, logical_id: str) -> Handler:
        if logical_id not in self._handlers:
            self._handlers[logical_id] = load_handler(self.template.root, self.functions[logical_id])
        return self._handlers[logical_id]

    def asgi_app(self, logical_id: str) -> ASGIApp:
        if logical_id not in self._apps:
            self._apps[logical_id] = load_asgi_app(self.template.root, self.functions[logical_id])
        return self._apps[logical_id]

    def load_all(self) -> None:
        for route in self.routes:
            if route.streaming:
                self.asgi_app(route.function)
            else:
                self.handler(route.function)
        if self.authorizer:
            self.handler(self.authorizer)

    def context(self, logical_id: str) -> LambdaContext:
        return LambdaContext(function_name=logical_id, timeout_seconds=self.functions[logical_id].timeout)

    async def _gateway_response(self, send: Send, name: str, request_id: str,
                                authorizer: dict[str, Any] | None = None) -> None:
        status, template = self.gateway_responses.get(name, (500, '{"message": "Internal server error"}'))
        reason = str((authorizer or {}).get("reason", "")).replace('"', "'")
        body = template.replace("$context.authorizer.reason", reason).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"x-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        flush = _FLUSH_AUTHORIZERS.match(path) if method == "DELETE" else None
        if flush is not None:
            await self._flush_authorizer_cache(send, flush.group(1), flush.group(2))
            return
        route, params = next(((r, p) for r in self.routes if (p := r.match(method, path)) is not None), (None, None))
        if route is None or params is None:
            await self._gateway_response(send, "MISSING_AUTHENTICATION_TOKEN", str(uuid.uuid4()))
            return
        # A client cannot pose as the gateway: its own x-amzn-* headers are dropped, as API Gateway does.
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
                   if not k.lower().startswith(b"x-amzn-")}
        request_context: dict[str, Any] = {
            "accountId": "123456789012", "apiId": API_ID, "stage": STAGE, "resourcePath": route.path,
            "httpMethod": method, "path": f"/{STAGE}{path}", "requestId": str(uuid.uuid4()), "protocol": "HTTP/1.1",
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": (scope.get("client") or ("127.0.0.1", 0))[0],
                         "userAgent": headers.get("user-agent", "")}}
        if route.auth and self.authorizer:
            authorizer = await self._authorize(route, method, path, headers, request_context)
            if authorizer is None or "key_id" not in authorizer:
                await self._gateway_response(send, "ACCESS_DENIED" if authorizer is not None else "UNAUTHORIZED",
                                             request_context["requestId"], authorizer)
                return
            request_context["authorizer"] = authorizer
        await self._integrate(route, scope, receive, send, headers, request_context, params)

    async def _integrate(self, route: Route, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
                         request_context: dict[str, Any], params: dict[str, str]) -> None:
        """Call the route's function, cut at the integration's timeout as API Gateway cuts it."""
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        async def call() -> None:
            if route.streaming:
                await self._forward(route, scope, receive, watched_send, request_context)
                return
            body = await _read_body(receive)
            event = rest_event(route, scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                               headers, body, request_context, params)
            response = await asyncio.to_thread(self.handler(route.function), event, self.context(route.function))
            await _send_proxy_response(watched_send, response)

        try:
            await asyncio.wait_for(call(), timeout=route.timeout_ms / 1000)
        except TimeoutError:
            if started:  # the status went out: the stream just ends, as when API Gateway closes it
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await self._gateway_response(send, "INTEGRATION_TIMEOUT", request_context["requestId"])

    async def _flush_authorizer_cache(self, send: Send, api_id: str, stage: str) -> None:
        """API Gateway's FlushStageAuthorizersCache for this API's one stage: 202, or 404 for another API."""
        found = (api_id, stage) == (API_ID, STAGE)
        if found:
            self._authorizer_cache.clear()
        body = b"{}" if found else b'{"message": "Invalid stage identifier specified"}'
        await send({"type": "http.response.start", "status": 202 if found else 404,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _authorize(self, route: Route, method: str, path: str, headers: dict[str, str],
                         request_context: dict[str, Any]) -> dict[str, Any] | None:
        """The authorizer's context (with `principalId`), `{"reason"}` for a Deny, None without the header.
        Answers are cached per Authorization header for the template's TTL, as API Gateway caches them."""
        identity = headers.get("authorization")
        if not identity or self.authorizer is None:
            return None
        cached = self._authorizer_cache.get(identity)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        answer = await self._call_authorizer(route, method, path, headers, request_context)
        if self.authorizer_ttl > 0:
            self._authorizer_cache[identity] = (time.monotonic() + self.authorizer_ttl, answer)
        return answer

    async def _call_authorizer(self, route: Route, method: str, path: str, headers: dict[str, str],
                               request_context: dict[str, Any]) -> dict[str, Any]:
        assert self.authorizer is not None
        event = {"type": "REQUEST", "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:local/{STAGE}/"
                                                  f"{method}{path}",
                 "resource": route.path, "path": path, "httpMethod": method, "headers": headers,
                 "requestContext": request_context}
        answer = await asyncio.to_thread(self.handler(self.authorizer), event, self.context(self.authorizer))
        statements = (answer.get("policyDocument") or {}).get("Statement") or []
        allowed = bool(statements) and all(s.get("Effect") == "Allow" for s in statements)
        context = {str(k): v for k, v in (answer.get("context") or {}).items()}
        if not allowed:
            return {"reason": context.get("reason", "")}
        return {**context, "principalId": answer.get("principalId", "")}

    async def _forward(self, route: Route, scope: Scope, receive: Receive, send: Send,
                       request_context: dict[str, Any]) -> None:
        headers = [(k, v) for k, v in scope["headers"] if not k.lower().startswith(b"x-amzn-")]
        headers.append((b"x-amzn-request-context", json.dumps(request_context).encode()))
        await self.asgi_app(route.function)({**scope, "headers": headers}, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_proxy_response(send: Send, response: dict[str, Any]) -> None:
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
    headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[str(key).lower()] = ",".join(map(str, values))
    headers.setdefault("content-type", "application/json")
    headers["content-length"] = str(len(data))
    await send({"type": "http.response.start", "status": int(response.get("statusCode", 200)),
                "headers": [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items()]})
    await send({"type": "http.response.body", "body": data})
