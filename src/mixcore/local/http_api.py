"""A local stand-in for API Gateway HttpApi: HTTP requests become v2 events for the real handlers.

Routes and the authorizer come from template.yaml. Like HttpApi, a request without the identity
source (the Authorization header) on an authorized route gets 401 `{"message": "Unauthorized"}`
without reaching any function, and an unknown route gets 404 `{"message": "Not Found"}`.
"""

from __future__ import annotations

import base64
import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mixcore.local.template import FunctionDef, Route, Template

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


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


def load_handler(root: Path, function: FunctionDef) -> Handler:
    """Import a function's module from its CodeUri the way the Lambda runtime would."""
    module_name, _, attribute = function.handler.rpartition(".")
    path = root / function.code_uri / f"{module_name.replace('.', '/')}.py"
    unique = f"mixcore_local_fn_{function.logical_id}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler


class LocalHttpApi:
    """Routes → handlers, the authorizer, and the v2 event/response translation."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.functions = template.functions()
        self.routes: list[Route] = template.routes()
        self.authorizer = template.authorizer_function()
        self._handlers: dict[str, Handler] = {}

    def handler(self, logical_id: str) -> Handler:
        if logical_id not in self._handlers:
            self._handlers[logical_id] = load_handler(self.template.root, self.functions[logical_id])
        return self._handlers[logical_id]

    def load_all(self) -> None:
        for logical_id in {r.function for r in self.routes} | ({self.authorizer} if self.authorizer else set()):
            self.handler(logical_id)

    def invoke(self, method: str, raw_path: str, headers: dict[str, str], body: bytes,
               source_ip: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        path = split.path
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                break
        else:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        lowered = {k.lower(): v for k, v in headers.items()}
        now = time.time()
        request_context: dict[str, Any] = {
            "accountId": "123456789012", "apiId": "local", "domainName": lowered.get("host", "localhost"),
            "domainPrefix": "local", "requestId": str(uuid.uuid4()), "routeKey": route.route_key,
            "stage": "$default", "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
            "http": {"method": method.upper(), "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lowered.get("user-agent", "")}}
        event: dict[str, Any] = {"version": "2.0", "routeKey": route.route_key, "rawPath": path,
                                 "rawQueryString": split.query, "headers": lowered,
                                 "requestContext": request_context, "isBase64Encoded": False}
        if split.query:
            event["queryStringParameters"] = dict(parse_qsl(split.query))
        if params:
            event["pathParameters"] = params
        if body:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        if route.auth and self.authorizer:
            identity = lowered.get("authorization")
            if not identity:
                return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
            auth_event = {**event, "type": "REQUEST", "identitySource": [identity],
                          "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:local/$default/"
                                      f"{method.upper()}{path}"}
            answer = self.handler(self.authorizer)(auth_event, self._context(self.authorizer))
            if not answer.get("isAuthorized"):
                return 403, {"content-type": "application/json"}, b'{"message":"Forbidden"}'
            request_context["authorizer"] = {"lambda": answer.get("context") or {}}
        try:
            response = self.handler(route.function)(event, self._context(route.function))
        except Exception:
            return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        return self._http_response(response)

    def _context(self, logical_id: str) -> LambdaContext:
        return LambdaContext(function_name=logical_id, timeout_seconds=self.functions[logical_id].timeout)

    @staticmethod
    def _http_response(response: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        body = response.get("body") or ""
        data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
        headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers[str(key).lower()] = ",".join(map(str, values))
        headers.setdefault("content-type", "application/json")
        return int(response.get("statusCode", 200)), headers, data


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, delayed ACKs add ~40 ms a response.
    disable_nagle_algorithm = True
    server: LocalHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.access_log:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, data = self.server.api.invoke(self.command, self.path, dict(self.headers.items()), body,
                                                       self.client_address[0])
        self.send_response(status)
        for key, value in headers.items():
            if key not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def do_OPTIONS(self) -> None:
        self._handle()


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, api: LocalHttpApi, host: str = "127.0.0.1", port: int = 8080,
                 access_log: bool = False) -> None:
        super().__init__((host, port), _RequestHandler)
        self.api = api
        self.access_log = access_log

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]!s}:{self.server_address[1]}"
