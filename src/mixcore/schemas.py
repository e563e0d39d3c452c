"""Request models of the OpenAI-compatible API, shared by the API edge and the mixes (pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The request fields the gateway interprets itself rather than forwarding upstream.
GATEWAY_FIELDS = frozenset({"model", "stream", "stream_options", "mix", "models", "include_proposals"})


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class MixOverrides(BaseModel):
    """Per-request adjustments of a mix (sent through the SDK's `extra_body={"mix": {...}}`)."""

    model_config = ConfigDict(extra="forbid")
    top_n: int | None = Field(default=None, ge=1, le=50)
    max_price: float | None = Field(default=None, ge=0, description="max USD per 1M output tokens")
    min_context: int | None = Field(default=None, ge=1)
    modalities: list[str] | None = None
    allow_providers: list[str] | None = None
    deny_providers: list[str] | None = None
    min_proposers: int | None = Field(default=None, ge=1)
    straggler_seconds: float | None = Field(default=None, ge=0, le=600)
    n: int | None = Field(default=None, ge=1, le=16)


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; unknown fields are forwarded to the provider."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    mix: MixOverrides | None = None
    models: list[str] | None = Field(default=None, max_length=10,
                                     description="fallback models for a direct model, in order")
    include_proposals: bool = False

    def upstream_params(self) -> dict[str, Any]:
        """The fields forwarded to a provider (OpenAI shape), without the gateway's own."""
        return self.model_dump(exclude_none=True, exclude=set(GATEWAY_FIELDS))
