"""Local OpenAI- and Anthropic-compatible provider servers: demo answers, known latency, injected faults.

One server speaks for every provider, each under its own path prefix:
`http://127.0.0.1:PORT/<provider>/v1/chat/completions` (OpenAI protocol) and
`http://127.0.0.1:PORT/<provider>/v1/messages` (Anthropic protocol). Answers name the model that
produced them and report realistic token usage. Behaviours (latency, status codes, hangs, dropped
connections, broken bodies) can be set per provider or per model, in process or by
`POST /_control/behaviour`, so tests exercise real HTTP failure modes on loopback.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mixcore.catalog.models import CatalogModel
from mixcore.providers.types import estimate_tokens, message_text

MAX_HANG_SECONDS = 60.0
MAX_CHOICES = 16


@dataclass
class Behaviour:
    """How the demo provider answers a call. Every fault is bounded in time and size."""

    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    status: int = 200
    retry_after: float | None = None
    fail_times: int | None = None  # fail only the first N calls, then answer normally
    fault: str | None = None  # hang | drop | slow_body | truncated_json | invalid_sse | error_body | huge | wrong_type
    #                            | drop_mid_stream | no_usage | error_event
    raw_body: str | None = None  # answer with this text/plain body (and `status`), as a proxy in front would
    drip_ms: float = 0.0  # write error and raw bodies 16 bytes at a time, this long apart
    reply: str | None = None  # fixed answer text instead of the demo sentence
    message: str | None = None  # error message with a failing status
    hang_seconds: float = 30.0
    usage: dict[str, Any] | None = None  # the usage object to report instead of the real counts (lies included)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Behaviour:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class ReceivedCall:
    provider: str
    protocol: str
    model: str
    body: dict[str, Any]
    at: float
    events_sent: int = 0  # stream events written so far
    completed: bool = False  # the whole answer was written


# What the real APIs refuse, as their documentation says (independent of the catalog's rules data, which the
# gateway applies): OpenAI's reasoning models (o-series, gpt-5 at an effort above none) refuse sampling fields and
# max_tokens; Anthropic refuses temperature and top_k with thinking on; every provider refuses an output cap above
# the model's output limit.
_OPENAI_REASONING = re.compile(r"^(o\d|gpt-5)")
_OPENAI_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
                    "logit_bias")


def documented_refusal(provider: str, protocol: str, model: str, body: dict[str, Any],
                       output_limit: int | None) -> str | None:
    """The 400 message the real provider answers this request with, or None when it takes it."""
    if provider == "openai" and _OPENAI_REASONING.match(model):
        if "max_tokens" in body:
            return ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.")
        effort_none = body.get("reasoning_effort") == "none" and model.startswith("gpt-5")
        refused = next((f for f in _OPENAI_SAMPLING if f in body and not effort_none), None)
        if refused is not None:
            return f"Unsupported parameter: '{refused}' is not supported with this model."
    if protocol == "anthropic" and body.get("thinking"):
        refused = next((f for f in ("temperature", "top_k") if f in body), None)
        if refused is not None:
            return f"`{refused}` may only be set to 1 when thinking is enabled."
    cap = body.get("max_tokens") or body.get("max_completion_tokens")
    if output_limit is not None and isinstance(cap, int) and cap > output_limit:
        return f"max_tokens: {cap} > {output_limit}, which is the maximum allowed number of output tokens for {model}"
    return None


@dataclass
class DemoState:
    known_models: dict[str, set[str]] = field(default_factory=dict)
    output_limits: dict[str, int] = field(default_factory=dict)  # provider/model → its output limit
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    calls: list[ReceivedCall] = field(default_factory=list)
    failures_served: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    default_latency_ms: float = 0.0
    default_chunk_delay_ms: float = 0.0
    # Streams whose client hung up before the last event: (provider/model, events written).
    abandoned_streams: list[tuple[str, int]] = field(default_factory=list)

    def behaviour_for(self, provider: str, model: str) -> tuple[str, Behaviour]:
        for key in (f"{provider}/{model}", provider, "*"):
            if key in self.behaviours:
                return key, self.behaviours[key]
        return "", Behaviour(latency_ms=self.default_latency_ms, chunk_delay_ms=self.default_chunk_delay_ms)


def demo_answer(provider: str, model: str, messages: list[dict[str, Any]]) -> str:
    question = message_text([m for m in messages if m.get("role") == "user"][-1:]).strip().replace("\n", " ")
    if len(question) > 120:
        question = question[:117] + "..."
    return (f"This answer comes from {provider}/{model}, a Mixcore demo provider (no real model was called). "
            f"You asked: {question}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, delayed ACKs add ~40 ms a response.
    disable_nagle_algorithm = True
    server: DemoProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None, drip_ms: float = 0.0,
              content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not drip_ms:
            self.wfile.write(data)
            return
        for start in range(0, len(data), 16):  # bounded: a body of N bytes takes N/16 × drip_ms
            self.wfile.write(data[start:start + 16])
            self.wfile.flush()
            time.sleep(drip_ms / 1000)

    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[1:] == ["v1", "models"]:
            models = sorted(self.server.state.known_models.get(parts[0], set()))
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
            return
        if self.path == "/_control/calls":
            with self.server.state.lock:
                calls = [c.__dict__ for c in self.server.state.calls]
                abandoned = [{"model": m, "events_written": n} for m, n in self.server.state.abandoned_streams]
            self._json(200, {"calls": calls, "abandoned_streams": abandoned})
            return
        self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "invalid JSON", "type": "invalid_request_error"}})
            return
        if self.path == "/_control/behaviour":
            self.server.set_behaviour(body.get("target", "*"), Behaviour.parse(body.get("behaviour") or {})
                                      if body.get("behaviour") is not None else None)
            self._json(200, {"ok": True})
            return
        if self.path == "/_control/reset":
            self.server.reset()
            self._json(200, {"ok": True})
            return
        parts = self.path.strip("/").split("/")
        if len(parts) >= 3 and parts[1] == "v1" and parts[2:] in (["chat", "completions"], ["messages"]):
            self._answer(parts[0], "anthropic" if parts[2] == "messages" else "openai", body)
            return
        self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def _answer(self, provider: str, protocol: str, body: dict[str, Any]) -> None:
        state = self.server.state
        model = str(body.get("model", ""))
        key, behaviour = state.behaviour_for(provider, model)
        call = ReceivedCall(provider, protocol, model, body, time.time())
        with state.lock:
            state.calls.append(call)
            failing = behaviour.status != 200 or behaviour.fault is not None
            if failing and behaviour.fail_times is not None:
                served = state.failures_served.get(key, 0)
                if served >= behaviour.fail_times:
                    failing = False
                    behaviour = Behaviour(latency_ms=behaviour.latency_ms, chunk_delay_ms=behaviour.chunk_delay_ms,
                                          reply=behaviour.reply)
                else:
                    state.failures_served[key] = served + 1
        known = state.known_models.get(provider)
        if known is not None and model not in known:
            self._error(protocol, 404, f"The model `{model}` does not exist or you do not have access to it.",
                        "model_not_found")
            return
        refusal = documented_refusal(provider, protocol, model, body, state.output_limits.get(f"{provider}/{model}"))
        if refusal is not None:
            self._error(protocol, 400, refusal, "invalid_request_error")
            return
        if behaviour.latency_ms:
            time.sleep(behaviour.latency_ms / 1000)
        fault = behaviour.fault if failing else None
        if fault == "hang":
            time.sleep(min(behaviour.hang_seconds, MAX_HANG_SECONDS))
            self.close_connection = True
            return
        if fault == "drop":
            self._drop()
            return
        if behaviour.raw_body is not None:
            self._json(behaviour.status, behaviour.raw_body.encode(), drip_ms=behaviour.drip_ms,
                       content_type="text/plain")
            return
        if failing and behaviour.status != 200:
            headers = {"retry-after": str(behaviour.retry_after)} if behaviour.retry_after is not None else None
            self._error(protocol, behaviour.status, behaviour.message or f"demo provider failing with "
                        f"{behaviour.status}", "demo_failure", headers, behaviour.drip_ms)
            return
        messages = body.get("messages") or []
        if protocol == "anthropic" and body.get("system"):
            messages = [{"role": "system", "content": body["system"]}, *messages]
        text = behaviour.reply if behaviour.reply is not None else demo_answer(provider, model, messages)
        prompt_tokens = estimate_tokens(message_text(messages)) + 3 * len(messages)
        if body.get("stream"):
            self._stream(protocol, model, text, prompt_tokens, body, behaviour, fault, call)
        else:
            n = body.get("n") if protocol == "openai" else None  # OpenAI's `n`: that many choices, each billed
            self._complete(protocol, model, text, prompt_tokens, fault, behaviour.usage, behaviour.message,
                           choices=min(MAX_CHOICES, n) if isinstance(n, int) and n > 1 else 1)
            call.completed = fault is None

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _error(self, protocol: str, status: int, message: str, code: str,
               headers: dict[str, str] | None = None, drip_ms: float = 0.0) -> None:
        if protocol == "anthropic":
            payload: dict[str, Any] = {"type": "error", "error": {"type": code, "message": message}}
        else:
            payload = {"error": {"message": message, "type": "invalid_request_error" if status < 500
                                 else "server_error", "param": None, "code": code}}
        self._json(status, payload, headers, drip_ms)

    def _complete(self, protocol: str, model: str, text: str, prompt_tokens: int, fault: str | None,
                  usage: dict[str, Any] | None, message: str | None = None, choices: int = 1) -> None:
        completion_tokens = estimate_tokens(text) * choices
        if protocol == "anthropic":
            payload: dict[str, Any] = {
                "id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens}}
        else:
            payload = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
                       "created": int(time.time()), "model": model,
                       "choices": [{"index": i, "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop"} for i in range(choices)],
                       "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                 "total_tokens": prompt_tokens + completion_tokens}}
        if usage is not None:
            payload["usage"] = usage
        if fault == "no_usage":
            payload.pop("usage")
        if fault == "error_body":
            payload = {"error": {"message": message or "upstream overloaded (reported with status 200)",
                                 "type": "server_error"}}
            if protocol == "anthropic":
                payload["type"] = "error"
        data = json.dumps(payload).encode()
        if fault == "huge":
            data = b'{"pad": "' + b"x" * (12 * 1024 * 1024) + b'"}'
        if fault == "truncated_json":
            data = data[: len(data) // 2]
        if fault == "wrong_type":
            data = b"<html><body>502 Bad Gateway (from a proxy in front of the provider)</body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html" if fault == "wrong_type" else "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if fault == "slow_body":
            for i in range(0, len(data), 16):
                self.wfile.write(data[i:i + 16])
                self.wfile.flush()
                time.sleep(1.0)
            return
        self.wfile.write(data)

    def _stream(self, protocol: str, model: str, text: str, prompt_tokens: int, body: dict[str, Any],
                behaviour: Behaviour, fault: str | None, call: ReceivedCall) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html" if fault == "wrong_type" else "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        if fault == "wrong_type":
            self.wfile.write(b"<html>not a stream</html>")
            return
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1].rstrip()
        completion_tokens = estimate_tokens(text)
        usage = behaviour.usage
        events = (_anthropic_events(model, words, prompt_tokens, completion_tokens, usage) if protocol == "anthropic"
                  else _openai_events(model, words, prompt_tokens, completion_tokens,
                                      bool((body.get("stream_options") or {}).get("include_usage"))
                                      and fault != "no_usage", usage))
        for index, event in enumerate(events):
            if fault == "invalid_sse" and index == 2:
                self.wfile.write(b"data: {not json\n\n")
                self.wfile.flush()
                return
            if fault == "drop_mid_stream" and index == 3:
                self._drop()
                return
            if fault == "error_event" and index == 3:
                error = {"type": "overloaded_error", "message": behaviour.message or "overloaded"}
                self.wfile.write((f"event: error\ndata: {json.dumps({'type': 'error', 'error': error})}\n\n"
                                  if protocol == "anthropic" else f"data: {json.dumps({'error': error})}\n\n").encode())
                self.wfile.flush()
                return
            try:
                self.wfile.write(event.encode())
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                with self.server.state.lock:
                    self.server.state.abandoned_streams.append((f"{call.provider}/{model}", index))
                return
            call.events_sent = index + 1
            if behaviour.chunk_delay_ms and index < len(events) - 1:
                time.sleep(behaviour.chunk_delay_ms / 1000)
        call.completed = True


def _openai_events(model: str, words: list[str], prompt_tokens: int, completion_tokens: int,
                   include_usage: bool, usage: dict[str, Any] | None = None) -> list[str]:
    ident, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return "data: " + json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                                      "model": model, "choices": [{"index": 0, "delta": delta,
                                                                   "finish_reason": finish}]}) + "\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": w}) for w in words]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append("data: " + json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                                             "model": model, "choices": [], "usage": usage or {
                                                 "prompt_tokens": prompt_tokens,
                                                 "completion_tokens": completion_tokens,
                                                 "total_tokens": prompt_tokens + completion_tokens}}) + "\n\n")
    events.append("data: [DONE]\n\n")
    return events


def _anthropic_events(model: str, words: list[str], prompt_tokens: int, completion_tokens: int,
                      usage: dict[str, Any] | None = None) -> list[str]:
    def event(name: str, payload: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n"

    events = [event("message_start", {"message": {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message",
                                                  "role": "assistant", "model": model, "content": [],
                                                  "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}),
              event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": w}}) for w in words]
    events += [event("content_block_stop", {"index": 0}),
               event("message_delta", {"delta": {"stop_reason": "end_turn"},
                                       "usage": usage or {"output_tokens": completion_tokens}}),
               event("message_stop", {})]
    return events


def catalog_output_limits(models: Iterable[CatalogModel]) -> dict[str, int]:
    """provider/api_model → the output limit the price tables give (what the demo servers enforce)."""
    return {f"{m.provider}/{m.api_model}": m.max_output_tokens for m in models if m.max_output_tokens}


def provider_base_url(server_url: str, provider: str, protocol: str = "openai") -> str:
    """Where a client of this server finds `provider`: its path prefix, plus /v1 for the OpenAI protocol."""
    return f"{server_url}/{provider}" + ("" if protocol == "anthropic" else "/v1")


class DemoProviderServer(ThreadingHTTPServer):
    """The demo/fault provider server on 127.0.0.1. `start()` serves in a daemon thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int = 0, *, latency_ms: float = 0.0, chunk_delay_ms: float = 0.0,
                 known_models: dict[str, set[str]] | None = None, output_limits: dict[str, int] | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = DemoState(known_models=known_models or {}, output_limits=output_limits or {},
                               default_latency_ms=latency_ms, default_chunk_delay_ms=chunk_delay_ms)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def base_url(self, provider: str, protocol: str = "openai") -> str:
        return provider_base_url(self.url, provider, protocol)

    def set_behaviour(self, target: str, behaviour: Behaviour | None) -> None:
        with self.state.lock:
            if behaviour is None:
                self.state.behaviours.pop(target, None)
            else:
                self.state.behaviours[target] = behaviour
            self.state.failures_served.pop(target, None)

    def reset(self) -> None:
        with self.state.lock:
            self.state.behaviours.clear()
            self.state.calls.clear()
            self.state.failures_served.clear()
            self.state.abandoned_streams.clear()

    def calls_for(self, model: str | None = None) -> list[ReceivedCall]:
        with self.state.lock:
            return [c for c in self.state.calls if model is None or f"{c.provider}/{c.model}" == model
                    or c.model == model]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up are part of the job: no traceback for a broken pipe."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def start(self) -> DemoProviderServer:
        self._thread = threading.Thread(target=self.serve_forever, name="demo-providers", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
