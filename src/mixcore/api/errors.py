"""OpenAI-shaped error responses for every failure the API can produce."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from mixcore.errors import MixcoreError

JSON = "application/json"


def error_response(status: int, message: str, *, error_type: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> Response[str]:
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return Response(status, JSON, json.dumps(body), headers=headers)


def from_domain(error: MixcoreError) -> Response[str]:
    return Response(error.status, JSON, json.dumps(error.to_body()))


def _location(loc: Any) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or None


def from_validation(error: RequestValidationError) -> Response[str]:
    """400 with pydantic's own message, the offending field as `param`."""
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "")
        return error_response(400, f"The request body is not valid JSON: {reason}".rstrip(": "),
                              code="invalid_json")
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    param = _location(first.get("loc", ()))
    messages = [f"{_location(e.get('loc', ())) or 'body'}: {e.get('msg')}" for e in errors[:5]]
    return error_response(400, "Invalid request: " + "; ".join(messages), param=param, code="invalid_request")
