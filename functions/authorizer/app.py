"""AuthorizerFunction: the REST API Lambda REQUEST authorizer for client keys."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mixcore.api.authorizer import authorize
from mixcore.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize(event)
