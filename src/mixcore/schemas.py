"""Request models of the OpenAI-compatible API, shared by the API edge and the mixes (pydantic)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from mixcore.model import Model

# The request fields the gateway interprets itself rather than forwarding upstream.
GATEWAY_FIELDS = frozenset({"model", "stream", "stream_options", "mix", "models", "include_proposals", "route"})
# OpenAI chat parameters beyond the declared ones that are forwarded: documented, and billed as plain tokens.
FORWARDED_EXTRAS = frozenset({"logit_bias", "logprobs", "top_logprobs", "parallel_tool_calls", "reasoning_effort",
                              "verbosity", "functions", "function_call"})
# Accepted, never forwarded: their only effect would be one Mixcore does not allow (a premium it cannot price,
# or the provider keeping the conversation); the values that change nothing are dropped.
DROPPED_WHEN = {"service_tier": (None, "auto", "default"), "store": (None, False)}


# A model id or mix id: printable ASCII without spaces (it is echoed in the x-mix-model header).
MODEL_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/@+#-]*$"


class ImageURL(Model):
    model_config = ConfigDict(extra="allow")
    url: str = Field(min_length=1)
    detail: str | None = None


class ContentPart(Model):
    """One part of a message's content, in the shape OpenAI documents for its type."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None
    image_url: ImageURL | None = None

    @model_validator(mode="after")
    def _shape_of_type(self) -> ContentPart:
        if self.type == "text" and self.text is None:
            raise ValueError("a text part needs a string 'text'")
        if self.type == "image_url" and self.image_url is None:
            raise ValueError("an image_url part needs 'image_url': {'url': ...}")
        return self


class FunctionCall(Model):
    model_config = ConfigDict(extra="allow")
    name: str
    arguments: str = Field(description="the arguments as a JSON string, as OpenAI sends them")


class ToolCall(Model):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionDefinition(Model):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(Model):
    model_config = ConfigDict(extra="allow")
    type: Literal["function"]
    function: FunctionDefinition


class ChatMessage(Model):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class StreamOptions(Model):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class MixOverrides(Model):
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


class RouteOverrides(Model):
    """Per-request settings of a route mix (`extra_body={"route": {...}}`): the share of prompts the strong side
    should answer, or the router's score threshold itself, and the most the strong side may cost."""

    model_config = ConfigDict(extra="forbid")
    strong_share: float | None = Field(default=None, ge=0, le=1)
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    max_cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                       description="above this estimate, the weak side answers")


class ChatCompletionRequest(Model):
    """OpenAI's chat completion request; unknown fields are forwarded to the provider."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=256, pattern=MODEL_ID)
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
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    mix: MixOverrides | None = None
    route: RouteOverrides | None = None
    models: list[Annotated[str, Field(min_length=1, max_length=256, pattern=MODEL_ID)]] | None = Field(
        default=None, max_length=10, description="fallback models for a direct model, in order")
    include_proposals: bool = False

    @model_validator(mode="after")
    def _known_fields_only(self) -> ChatCompletionRequest:
        """Unknown fields are refused, not forwarded: a provider could bill them at prices Mixcore cannot count."""
        for name, value in (self.model_extra or {}).items():
            if name in DROPPED_WHEN:
                if value not in DROPPED_WHEN[name]:
                    raise ValueError(f"{name}={value!r} is not supported: Mixcore cannot price or allow it "
                                     f"(accepted: {', '.join(repr(v) for v in DROPPED_WHEN[name] if v is not None)})")
            elif name not in FORWARDED_EXTRAS:
                raise ValueError(f"Unrecognized request argument supplied: {name}")
        return self

    def upstream_params(self) -> dict[str, Any]:
        """The fields forwarded to a provider (OpenAI shape), without the gateway's own or the dropped ones."""
        return self.model_dump(exclude_none=True, exclude=set(GATEWAY_FIELDS) | set(DROPPED_WHEN))
