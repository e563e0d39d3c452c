"""The OpenAI Chat Completions protocol, spoken by most providers and local servers."""

from __future__ import annotations

from typing import Any

from mixcore.catalog.models import ReasoningSettings
from mixcore.providers.config import ProviderConfig
from mixcore.providers.errors import UpstreamInvalidResponse
from mixcore.providers.types import Usage, token_counts


def usage_from_openai(raw: Any) -> Usage | None:
    """The usage object's counts; None (the call's usage is then estimated) when one is not a count."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    output_details = raw.get("completion_tokens_details") or {}
    counts = token_counts(raw, "prompt_tokens", "completion_tokens")
    cached = token_counts(details, "cached_tokens") if isinstance(details, dict) else None
    reasoning = token_counts(output_details, "reasoning_tokens") if isinstance(output_details, dict) else None
    if counts is None or cached is None or reasoning is None:
        return None
    return Usage(prompt_tokens=counts[0], completion_tokens=counts[1], cached_tokens=cached[0],
                 reasoning_tokens=min(reasoning[0], counts[1]))


def reasoning_fields(provider: str, reasoning: ReasoningSettings) -> dict[str, Any]:
    """A variant's settings as this provider's OpenAI-compatible API takes them.

    OpenAI and xAI: `reasoning_effort`. Gemini's OpenAI endpoint: `reasoning_effort`, or a token budget
    under `extra_body.google.thinking_config` (the two cannot be combined). OpenRouter: its `reasoning` object.
    """
    if provider == "openrouter":
        return {"reasoning": {"max_tokens": reasoning.budget_tokens} if reasoning.budget_tokens is not None
                else {"effort": reasoning.effort}}
    if reasoning.budget_tokens is not None:
        return {"extra_body": {"google": {"thinking_config": {"thinking_budget": reasoning.budget_tokens}}}}
    return {"reasoning_effort": reasoning.effort}


class OpenAIProtocol:
    """Builds OpenAI-compatible requests; responses are already in the gateway's shape."""

    name = "openai"

    def request(self, provider: ProviderConfig, model: str, params: dict[str, Any], stream: bool, *,
                reasoning: ReasoningSettings | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"content-type": "application/json"}
        if provider.api_key:
            headers["authorization"] = f"Bearer {provider.api_key}"
        body = {**params, "model": model, "stream": stream}
        if reasoning is not None:
            body.update(reasoning_fields(provider.name, reasoning))
        if stream:
            body["stream_options"] = {"include_usage": True}
        else:
            body.pop("stream_options", None)
        return f"{provider.base_url}/chat/completions", headers, body

    def parse_completion(self, body: Any) -> tuple[dict[str, Any], Usage | None]:
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
            raise UpstreamInvalidResponse("response has no choices")
        first = body["choices"][0]
        if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
            raise UpstreamInvalidResponse("response choice has no message")
        return body, usage_from_openai(body.get("usage"))

    def stream_translator(self) -> OpenAIStreamTranslator:
        return OpenAIStreamTranslator()


class OpenAIStreamTranslator:
    """OpenAI SSE events pass through; the usage-only final chunk is kept aside."""

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.done = False

    def feed(self, event: str, data: str) -> list[dict[str, Any]]:
        import json

        if data.strip() == "[DONE]":
            self.done = True
            return []
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise UpstreamInvalidResponse(f"invalid JSON in stream event: {data[:80]!r}") from exc
        if not isinstance(chunk, dict):
            raise UpstreamInvalidResponse("stream event is not an object")
        if "error" in chunk and "choices" not in chunk:
            from mixcore.providers.errors import UpstreamServerError, error_message_from_body

            raise UpstreamServerError(error_message_from_body(chunk, "error event in stream"))
        usage = usage_from_openai(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        if not chunk.get("choices"):
            return []
        return [chunk]
