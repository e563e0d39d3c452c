"""Values that cross the provider boundary: token usage and one upstream call's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens: read from the provider's prompt cache
    cache_write_tokens: int = 0  # of prompt_tokens: written to it (Anthropic cache_creation_input_tokens)
    reasoning_tokens: int = 0  # of completion_tokens: thinking the answer does not show
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cached_tokens += other.cached_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.estimated = self.estimated or other.estimated

    def to_openai(self) -> dict[str, Any]:
        usage: dict[str, Any] = {"prompt_tokens": self.prompt_tokens,
                                 "completion_tokens": self.completion_tokens,
                                 "total_tokens": self.total_tokens}
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


@dataclass
class Completion:
    """A normalised (OpenAI chat.completion shaped) answer from one provider call."""

    body: dict[str, Any]
    usage: Usage
    latency_ms: float
    retries: int = 0

    @property
    def text(self) -> str:
        choices = self.body.get("choices") or [{}]
        message = choices[0].get("message") or {}
        content = message.get("content")
        return content if isinstance(content, str) else ""


@dataclass
class StreamState:
    """What a stream has carried so far, for usage estimation and cost records."""

    usage: Usage | None = None
    text_parts: list[str] = field(default_factory=list)
    output_parts: list[str] = field(default_factory=list)  # all a provider bills as output: every choice, tool calls
    finish_reason: str | None = None
    retries: int = 0

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


def token_count(value: Any) -> int | None:
    """A token count as a provider should report it (a non-negative integer), or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def token_counts(raw: dict[str, Any], *names: str) -> list[int] | None:
    """The named counts of a provider's usage object (absent is 0); None when any of them is not a count."""
    counts = [0 if raw.get(name) is None else token_count(raw.get(name)) for name in names]
    return None if any(count is None for count in counts) else [count or 0 for count in counts]


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token): what the local stack's providers report. Usage a real
    provider leaves out is estimated by the bound in providers/tokens.py instead."""
    return max(1, (len(text) + 3) // 4) if text else 0


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user turn (the question being asked now), else of every message."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text([message])
    return message_text(messages)


def message_text(messages: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)
