"""CatalogFunction: GET /v1/models, /v1/mixes, /v1/leaderboards and the OpenAPI document."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mixcore.api.catalog import build_catalog_app
from mixcore.api.resolver import handle
from mixcore.observability import logger, tracer

app = build_catalog_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # responses hold keys' data and answers: not for X-Ray
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context)
