"""Anthropic's native Messages API, translated to and from the OpenAI chat shape."""

from __future__ import annotations

import json
import time
from typing import Any

from mixcore.catalog.models import ReasoningSettings
from mixcore.providers.config import ProviderConfig
from mixcore.providers.errors import UpstreamInvalidResponse, UpstreamServerError, error_message_from_body
from mixcore.providers.types import Usage, token_counts

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                "tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "stop"}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:") and ";base64," in url:
                media_type, data = url[5:].split(";base64,", 1)
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": media_type,
                                                           "data": data}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
    return blocks


def to_anthropic_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Split OpenAI messages into Anthropic's system text and alternating turns."""
    system_parts: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system_parts.extend(b["text"] for b in _content_blocks(message.get("content")) if b["type"] == "text")
            continue
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id", ""),
                     "content": message.get("content") or ""}
            turns.append({"role": "user", "content": [block]})
            continue
        blocks = _content_blocks(message.get("content"))
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                arguments = {}
            blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": function.get("name", ""),
                           "input": arguments})
        anthropic_role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == anthropic_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": anthropic_role, "content": blocks})
    return "\n\n".join(system_parts), turns


def _usage(raw: Any) -> Usage | None:
    """Anthropic reports cache reads and writes apart from `input_tokens`; the prompt count includes both."""
    counts = token_counts(raw, "input_tokens", "output_tokens", "cache_read_input_tokens",
                          "cache_creation_input_tokens") if isinstance(raw, dict) else None
    if counts is None:
        return None
    fresh, output, cache_read, cache_write = counts
    return Usage(prompt_tokens=fresh + cache_read + cache_write, completion_tokens=output, cached_tokens=cache_read,
                 cache_write_tokens=cache_write)


class AnthropicProtocol:
    name = "anthropic"

    def request(self, provider: ProviderConfig, model: str, params: dict[str, Any], stream: bool, *,
                reasoning: ReasoningSettings | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        system, turns = to_anthropic_messages(params.get("messages") or [])
        body: dict[str, Any] = {
            "model": model, "messages": turns, "stream": stream,
            "max_tokens": params.get("max_completion_tokens") or params.get("max_tokens") or DEFAULT_MAX_TOKENS,
        }
        if system:
            body["system"] = system
        sampling: tuple[str, ...] = ("temperature", "top_p", "top_k")
        if reasoning is not None and reasoning.budget_tokens:
            # Extended thinking: max_tokens counts the thinking too, so the answer keeps the room asked for;
            # Anthropic refuses temperature and top_k with thinking on (and top_p below 0.95).
            body["thinking"] = {"type": "enabled", "budget_tokens": reasoning.budget_tokens}
            body["max_tokens"] += reasoning.budget_tokens
            sampling = ()
        for key in sampling:
            if params.get(key) is not None:
                body[key] = params[key]
        stop = params.get("stop")
        if stop:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if params.get("tools"):
            body["tools"] = [{"name": t["function"]["name"], "description": t["function"].get("description", ""),
                              "input_schema": t["function"].get("parameters") or {"type": "object"}}
                             for t in params["tools"] if t.get("type") == "function"]
        headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        if provider.api_key:
            headers["x-api-key"] = provider.api_key
        return f"{provider.base_url}/v1/messages", headers, body

    def parse_completion(self, body: Any) -> tuple[dict[str, Any], Usage | None]:
        if not isinstance(body, dict) or body.get("type") == "error" or not isinstance(body.get("content"), list):
            raise UpstreamInvalidResponse(error_message_from_body(body, "response has no content"))
        text = "".join(b.get("text", "") for b in body["content"] if b.get("type") == "text")
        tool_calls = [{"id": b.get("id"), "type": "function",
                       "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})}}
                      for b in body["content"] if b.get("type") == "tool_use"]
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        usage = _usage(body.get("usage"))
        completion = {
            "id": body.get("id", ""), "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": STOP_REASONS.get(body.get("stop_reason") or "", "stop")}],
        }
        if usage is not None:
            completion["usage"] = usage.to_openai()
        return completion, usage

    def stream_translator(self) -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator()


class AnthropicStreamTranslator:
    """Anthropic stream events → OpenAI chat.completion.chunk objects."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.done = False
        self._id = ""
        self._model = ""
        self._tool_index: dict[int, int] = {}

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": self._model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    def feed(self, event: str, data: str) -> list[dict[str, Any]]:
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise UpstreamInvalidResponse(f"invalid JSON in stream event: {data[:80]!r}") from exc
        if not isinstance(payload, dict):
            raise UpstreamInvalidResponse("stream event is not an object")
        kind = payload.get("type") or event
        if kind == "message_start":
            message = payload.get("message") or {}
            self._id, self._model = message.get("id", ""), message.get("model", "")
            self.usage = _usage(message.get("usage"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = len(self._tool_index)
                self._tool_index[int(payload.get("index", 0))] = index
                return [self._chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                                     "function": {"name": block.get("name"), "arguments": ""}}]})]
            return []
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": delta.get("text", "")})]
            if delta.get("type") == "input_json_delta":
                index = self._tool_index.get(int(payload.get("index", 0)), 0)
                return [self._chunk({"tool_calls": [{"index": index, "function": {
                    "arguments": delta.get("partial_json", "")}}]})]
            return []
        if kind == "message_delta":
            usage = payload.get("usage")
            output = token_counts(usage, "output_tokens") if isinstance(usage, dict) else None
            if output is None or self.usage is None:  # unreadable: the call's usage is estimated from its text
                self.usage = None
            elif output[0]:
                self.usage.completion_tokens = output[0]
            reason = STOP_REASONS.get((payload.get("delta") or {}).get("stop_reason") or "", "stop")
            return [self._chunk({}, finish_reason=reason)]
        if kind == "message_stop":
            self.done = True
            return []
        if kind == "error":
            raise UpstreamServerError(error_message_from_body(payload, "error event in stream"))
        return []
