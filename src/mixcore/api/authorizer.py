"""The REST API's Lambda REQUEST authorizer: looks the bearer key up by its hash.

A valid key is allowed on every route of the API (the answer is cached per Authorization header
for the authorizer's TTL, 300 s, so it must not be route-specific), with the key id, budget and
rate limit as context for the functions. An unknown or revoked key is denied with a reason,
which the API's ACCESS_DENIED gateway response turns into OpenAI's 401 error shape; no function
runs. A request without the header never reaches the authorizer (API Gateway answers 401).
"""

from __future__ import annotations

from typing import Any

from mixcore.auth.keys import bearer_token, hash_key, verify
from mixcore.container import get_store

MISSING = "Missing API key. Send 'Authorization: Bearer <key>'."


def _api_wide(method_arn: str) -> str:
    """arn:aws:execute-api:region:account:api-id/stage/METHOD/path → …/api-id/stage/*/*"""
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    return f"{prefix}:execute-api:{'/'.join(parts[:2])}/*/*" if len(parts) >= 2 else method_arn


def policy(effect: str, method_arn: str, principal: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"principalId": principal,
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": _api_wide(method_arn)}]},
            "context": context}


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    method_arn = str(event.get("methodArn") or "")
    token = bearer_token(headers.get("authorization"))
    if token is None:
        return policy("Deny", method_arn, "anonymous", {"reason": MISSING})
    record = get_store().get_key(hash_key(token))
    if record is None or not verify(token, record):
        reason = "This API key has been revoked." if record is not None else "Incorrect API key provided."
        return policy("Deny", method_arn, "anonymous", {"reason": reason})
    context: dict[str, Any] = {"key_id": record.key_id, "key_name": record.name}
    if record.monthly_budget_usd is not None:
        context["budget_usd"] = record.monthly_budget_usd
    if record.requests_per_minute:
        context["rpm"] = record.requests_per_minute
    if record.allow_unpriced:
        context["allow_unpriced"] = "true"
    return policy("Allow", method_arn, record.key_id, context)
