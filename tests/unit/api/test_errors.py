"""OpenAI-shaped errors: pydantic's validation errors, domain errors, and the REST resolver's mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from mixcore.api.errors import invalid_request
from mixcore.api.resolver import new_resolver
from mixcore.errors import AllCandidatesFailed, BudgetExceeded, NotFound
from mixcore.schemas import ChatCompletionRequest


def errors_of(raw: str) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as invalid:
        ChatCompletionRequest.model_validate_json(raw)
    return invalid.value.errors(include_url=False)  # type: ignore[return-value]


@pytest.mark.parametrize(("raw", "code", "param"), [
    ("{not json", "invalid_json", None),
    ('{"model": "m"}', "invalid_request", "messages"),
    ('{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}', "invalid_request", "messages.0.role"),
    ('{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 9}', "invalid_request",
     "temperature"),
])
def test_validation_errors_become_one_400_naming_the_field(raw: str, code: str, param: str | None) -> None:
    error = invalid_request(errors_of(raw))
    body = error.to_body()["error"]
    assert error.status == 400
    assert (body["code"], body["param"], body["type"]) == (code, param, "invalid_request_error")


def test_domain_errors_carry_their_status_type_and_details() -> None:
    failed = AllCandidatesFailed("nobody answered", status=504, attempts=[{"model": "a", "outcome": "error"}])
    assert failed.to_body() == {"error": {"message": "nobody answered", "type": "upstream_error", "param": None,
                                          "code": "all_candidates_failed",
                                          "attempts": [{"model": "a", "outcome": "error"}]}}
    assert (BudgetExceeded("x").status, BudgetExceeded("x").error_type) == (402, "insufficient_quota")


def rest_event(path: str, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    context: dict[str, Any] = {"resourcePath": path, "httpMethod": "GET", "path": f"/api{path}", "stage": "api"}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {}, "queryStringParameters": None,
            "pathParameters": None, "requestContext": context, "body": None, "isBase64Encoded": False}


def resolver_answer(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    app = new_resolver()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/missing")
    def missing() -> None:
        raise NotFound("nothing here")

    response = app.resolve(event, {})
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(("path", "authorizer", "status", "code"), [
    ("/missing", {"key_id": "key_1"}, 404, "not_found"),
    ("/boom", {"key_id": "key_1"}, 500, "internal_error"),
    ("/nowhere", {"key_id": "key_1"}, 404, "not_found"),
    ("/missing", None, 401, "invalid_api_key"),
])
def test_the_resolver_maps_every_failure_to_openai_shape(path: str, authorizer: dict[str, Any] | None, status: int,
                                                          code: str) -> None:
    answered, body = resolver_answer(rest_event(path, authorizer))
    assert answered == status
    assert body["error"]["code"] == code and set(body["error"]) >= {"message", "type", "param", "code"}
