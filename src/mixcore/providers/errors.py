"""Typed upstream errors: what went wrong at a provider, and whether to retry or fall back."""

from __future__ import annotations

import re
from typing import Any

CONTEXT_LENGTH_MARKERS = (
    "context_length_exceeded", "maximum context length", "context length", "prompt is too long",
    "too many tokens", "input is too long", "exceeds the context window",
)


class UpstreamError(Exception):
    """A provider call failed. `retryable`: same provider again; `fallback`: next candidate may work."""

    kind = "upstream_error"
    retryable = False
    fallback = True
    client_status = 502

    def __init__(self, message: str, *, provider: str = "", model: str = "", status: int | None = None,
                 retry_after: float | None = None) -> None:
        self._unredacted = message  # until the client scrubs it with the provider's key (by value, then by shape)
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after

    def scrub(self, *secrets: str) -> None:
        """Redact the configured secrets by value, then anything shaped like a key, from the original text."""
        self.message = redact(self._unredacted, *secrets)
        self._unredacted = self.message
        self.args = (self.message,)

    def describe(self) -> dict[str, Any]:
        return {"error": self.kind, "status": self.status, "message": self.message[:300]}


class UpstreamTimeout(UpstreamError):
    kind = "timeout"
    client_status = 504


class RequestBudgetExhausted(UpstreamTimeout):
    """The request's time budget ran out before this candidate could be tried: no call was made."""

    kind = "budget_exhausted"


class UpstreamConnectionError(UpstreamError):
    kind = "connection_error"
    retryable = True


class UpstreamRateLimited(UpstreamError):
    kind = "rate_limited"
    retryable = True
    client_status = 503


class UpstreamServerError(UpstreamError):
    kind = "server_error"
    retryable = True


class UpstreamUnavailable(UpstreamServerError):
    kind = "unavailable"
    client_status = 503


class UpstreamConflict(UpstreamError):
    kind = "conflict"


class UpstreamAuthError(UpstreamError):
    """The provider rejected Mixcore's key: an operator problem, not the client's."""

    kind = "provider_auth_error"


class UpstreamModelNotFound(UpstreamError):
    kind = "model_not_found"
    client_status = 404


class ContextLengthExceeded(UpstreamError):
    """Too long for this model; a candidate with a larger window may still answer."""

    kind = "context_length_exceeded"
    client_status = 400


class UpstreamBadRequest(UpstreamError):
    """The provider says the request itself is wrong: the client must fix it, so no fallback."""

    kind = "bad_request"
    fallback = False
    client_status = 400


class UpstreamInvalidResponse(UpstreamError):
    kind = "invalid_response"


class ProviderNotConfigured(UpstreamError):
    kind = "provider_not_configured"


class ProviderCoolingDown(UpstreamError):
    kind = "cooling_down"
    client_status = 503


class UnpricedForBudget(UpstreamError):
    """A budgeted key may not call a model whose cost the catalog cannot count (a skip, never a call)."""

    kind = "unpriced"


class UnsupportedParameter(UpstreamError):
    """The client sent a field this model refuses (its provider's documented rules): a skip, never a call."""

    kind = "unsupported_parameter"
    client_status = 400

    def __init__(self, model: str, field: str) -> None:
        super().__init__(f"{model} does not accept {field!r} (its provider refuses it for this model)", model=model)
        self.field = field


# Shapes of API keys that providers echo back in their error messages ("Incorrect API key provided: sk-..."):
# OpenAI, Anthropic and DeepSeek (sk-), xAI, Google (AIza), Groq, Fireworks (fw_), Mixcore's own (mx-), and
# any long opaque token (Mistral's 32 characters, Together's 64 hex, each half of z.ai's id.secret).
# Redaction by value (the configured key) comes first; the shapes are the second line.
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|xai-[A-Za-z0-9_\-]{6,}|AIza[A-Za-z0-9_\-]{20,}|gsk_[A-Za-z0-9]{10,}"
                         r"|fw_[A-Za-z0-9]{10,}|mx-[A-Za-z0-9_\-]{10,}|[A-Za-z0-9]{32,})")
# Identifiers of the provider account that a client of the gateway has no business seeing.
_ACCOUNT_IDS = re.compile(r"\b(?:org|proj|project|organization|user|acct|workspace)[-_][A-Za-z0-9_-]{4,}"
                          r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MIN_SECRET_LENGTH = 8  # shorter "keys" (placeholders) would redact ordinary words


def redact(text: str, *secrets: str) -> str:
    """The text with every given secret and anything shaped like an API key replaced."""
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, "[redacted]")
    return _KEY_SHAPES.sub("[redacted]", text)


def client_safe(message: str, limit: int = 200) -> str:
    """Upstream error text as a gateway client may see it: the reason and limits kept, account ids removed."""
    return _ACCOUNT_IDS.sub("[redacted]", redact(message))[:limit]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare upstream)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_for_status(status: int, message: str, *, provider: str, model: str,
                     retry_after: float | None = None) -> UpstreamError:
    """Map an upstream HTTP status and its error text to a typed error."""
    lowered = message.lower()
    kwargs: dict[str, Any] = {"provider": provider, "model": model, "status": status, "retry_after": retry_after}
    if status in (400, 413, 422) and any(marker in lowered for marker in CONTEXT_LENGTH_MARKERS):
        return ContextLengthExceeded(message, **kwargs)
    if status in (401, 403):
        return UpstreamAuthError(message, **kwargs)
    if status == 404:
        return UpstreamModelNotFound(message, **kwargs)
    if status == 408:
        return UpstreamTimeout(message, **kwargs)
    if status == 409:
        return UpstreamConflict(message, **kwargs)
    if status == 429:
        return UpstreamRateLimited(message, **kwargs)
    if status in (503, 529):
        return UpstreamUnavailable(message, **kwargs)
    if status >= 500:
        return UpstreamServerError(message, **kwargs)
    if 400 <= status < 500:
        return UpstreamBadRequest(message, **kwargs)
    return UpstreamInvalidResponse(f"unexpected status {status}: {message}", **kwargs)


def error_message_from_body(body: Any, fallback: str) -> str:
    """The human message inside an OpenAI- or Anthropic-shaped error body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            code = error.get("code") or error.get("type")
            return f"{error['message']}" + (f" ({code})" if code else "")
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return fallback
