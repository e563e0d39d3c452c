"""A Powertools REST API resolver with Mixcore's error handling and key check, for the buffered routes."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from mixcore.api.errors import error_response, from_domain, invalid_request
from mixcore.auth.caller import caller_from_authorizer
from mixcore.errors import MixcoreError, PayloadTooLarge
from mixcore.observability import emit_route_metrics, logger
from mixcore.settings import get_settings

PUBLIC_PATHS = frozenset({"/openapi.json"})


def require_key(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route but the public ones needs the caller the authorizer found (401 otherwise)."""
    if app.current_event.path not in PUBLIC_PATHS:
        authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
        app.append_context(caller=caller_from_authorizer(authorizer))  # type: ignore[no-untyped-call]
    return next_middleware(app)


def new_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    app.use(middlewares=[require_key])

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        return from_domain(invalid_request(error.errors()))

    @app.exception_handler(MixcoreError)
    def _domain(error: MixcoreError) -> Response[str]:
        if error.status >= 500:
            logger.warning("request failed upstream", extra={"status": error.status, "error": error.code})
        return from_domain(error)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        event = app.current_event
        return error_response(404, f"No route for {event.http_method} {event.path}.", code="not_found")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(500, "Internal error; the request id is in the x-request-id header.",
                              error_type="server_error", code="internal_error")

    return app


def handle(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve a REST API event, refusing oversized bodies before they are parsed."""
    body = event.get("body") or ""
    limit = get_settings().max_body_bytes
    if len(body) > limit * (4 / 3 if event.get("isBase64Encoded") else 1):
        error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        refusal = from_domain(error)
        return {"statusCode": error.status, "headers": {"Content-Type": "application/json"},
                "body": refusal.body, "isBase64Encoded": False}
    started = time.monotonic()
    response = app.resolve(event, context)
    # The route template API Gateway matched (`/v1/mixes/{kind}/{name}`): a handful of values, never a raw path.
    route = f"{event.get('httpMethod') or 'GET'} {event.get('resource') or 'unmatched'}"[:100]
    emit_route_metrics(route, status=int(response.get("statusCode", 500)),
                       latency_ms=(time.monotonic() - started) * 1000)
    return response
