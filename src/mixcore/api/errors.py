"""OpenAI-shaped error responses for every failure the API can produce."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mixcore.errors import InvalidRequest, MixcoreError

if TYPE_CHECKING:  # the buffered routes' Response; the chat app (Starlette) does not load the event handler
    from aws_lambda_powertools.event_handler import Response

JSON = "application/json"


def error_response(status: int, message: str, *, error_type: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return Response(status, JSON, json.dumps(body), headers=headers)


def from_domain(error: MixcoreError) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    return Response(error.status, JSON, json.dumps(error.to_body()))


def _location(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or None


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> InvalidRequest:
    """pydantic's validation errors as one 400: its own messages, the first offending field as `param`."""
    broken_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken_json is not None:
        reason = (broken_json.get("ctx") or {}).get("error", "")
        return InvalidRequest(f"The request body is not valid JSON: {reason}".rstrip(": "), code="invalid_json")
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    messages = [f"{_location(e.get('loc', ())) or 'body'}: {e.get('msg')}" for e in errors[:5]]
    return InvalidRequest("Invalid request: " + "; ".join(messages), param=_location(first.get("loc", ())),
                          code="invalid_request")
