"""Who is calling: the client key the gateway's authorizer found, with its budget and rate limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mixcore.errors import AuthenticationFailed


@dataclass(frozen=True)
class Caller:
    key_id: str
    budget_usd: float | None = None
    requests_per_minute: int | None = None
    allow_unpriced: bool = False

    @property
    def limited(self) -> bool:
        return self.budget_usd is not None or self.requests_per_minute is not None


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def caller_from_authorizer(context: Mapping[str, Any]) -> Caller:
    """The caller from API Gateway's authorizer context (REST: `requestContext.authorizer`); 401 without a key.

    API Gateway passes the authorizer's context values as strings; a missing key id means the
    request did not come through the authorizer (a direct invocation, a misconfigured route).
    """
    key_id = context.get("key_id")
    if not key_id:
        raise AuthenticationFailed(str(context.get("reason") or "Missing or invalid API key. Send "
                                       "'Authorization: Bearer <key>' with a key from `mixcore keys create`."))
    rpm = _number(context.get("rpm"))
    return Caller(key_id=str(key_id), budget_usd=_number(context.get("budget_usd")),
                  requests_per_minute=int(rpm) if rpm else None,
                  allow_unpriced=str(context.get("allow_unpriced", "")).lower() == "true")
