"""A Powertools resolver with Mixcore's error handling, shared by every HTTP function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from mixcore.api.errors import error_response, from_domain, from_validation
from mixcore.errors import AuthenticationFailed, MixcoreError, PayloadTooLarge
from mixcore.settings import get_settings

logger = Logger(service="mixcore")


def new_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        return from_validation(error)

    @app.exception_handler(MixcoreError)
    def _domain(error: MixcoreError) -> Response[str]:
        if error.status >= 500:
            logger.warning("request failed upstream", extra={"status": error.status, "error": error.code})
        return from_domain(error)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, f"No route for {event.request_context.http.method} {event.path}.",
                              code="not_found")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "Internal error; the request id is in the x-request-id header.",
                              error_type="server_error", code="internal_error")

    return app


def _authorizer_context(app: APIGatewayHttpResolver) -> dict[str, Any]:
    authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    context: dict[str, Any] = authorizer.get("lambda") or {}
    return context


def caller_limits(app: APIGatewayHttpResolver) -> tuple[float | None, int | None]:
    """The key's monthly budget and requests per minute, as the authorizer attached them."""
    context = _authorizer_context(app)
    budget, rpm = context.get("budget_usd"), context.get("rpm")
    return (float(budget) if budget not in (None, "") else None, int(rpm) if rpm not in (None, "") else None)


def caller_key_id(app: APIGatewayHttpResolver) -> str:
    """The client key id the authorizer attached; 401 when the authorizer found no valid key."""
    context = _authorizer_context(app)
    key_id = context.get("key_id")
    if not key_id:
        raise AuthenticationFailed(context.get("reason") or "Missing or invalid API key. Send "
                                   "'Authorization: Bearer <key>' with a key from `mixcore keys create`.")
    return str(key_id)


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve an HttpApi event, refusing oversized bodies before they are parsed."""
    body = event.get("body") or ""
    limit = get_settings().max_body_bytes
    if len(body) > limit * (4 / 3 if event.get("isBase64Encoded") else 1):
        error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        response = from_domain(error)
        return {"statusCode": error.status, "headers": {"Content-Type": "application/json"},
                "body": response.body, "isBase64Encoded": False}
    if body:
        # The API speaks JSON only: a body sent without a JSON content type (curl -d) is read as JSON,
        # so a malformed one gets the invalid-JSON error rather than a confusing "field required".
        headers = event.setdefault("headers", {})
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "json" not in content_type.lower():
            for key in [k for k in headers if k.lower() == "content-type"]:
                del headers[key]
            headers["content-type"] = "application/json"
    return app.resolve(event, context)
