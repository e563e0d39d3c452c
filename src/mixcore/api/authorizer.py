"""The HttpApi Lambda authorizer: looks the bearer key up by its hash.

It answers in the simple-response format. A missing or unknown key is still *authorized* at the
gateway, with `key_id` empty and a reason, so that the function can reply with OpenAI's error
shape (an HttpApi authorizer denial can only produce a bare `{"message": "Forbidden"}`).
API Gateway caches the answer per Authorization header for `ReauthorizeEvery` seconds (300):
a revoked key stops working within that time.
"""

from __future__ import annotations

from typing import Any

from mixcore.auth.keys import bearer_token, hash_key, verify
from mixcore.container import get_store


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = bearer_token(headers.get("authorization"))
    if token is None:
        return {"isAuthorized": True, "context": {"key_id": "", "reason": "Missing API key. Send "
                                                 "'Authorization: Bearer <key>'."}}
    record = get_store().get_key(hash_key(token))
    if record is None or not verify(token, record):
        reason = "This API key has been revoked." if record is not None else "Incorrect API key provided."
        return {"isAuthorized": True, "context": {"key_id": "", "reason": reason}}
    context: dict[str, Any] = {"key_id": record.key_id, "key_name": record.name}
    if record.monthly_budget_usd is not None:
        context["budget_usd"] = record.monthly_budget_usd
    if record.requests_per_minute:
        context["rpm"] = record.requests_per_minute
    return {"isAuthorized": True, "context": context}
