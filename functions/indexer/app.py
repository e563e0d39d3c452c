"""IndexerFunction: the scheduled leaderboard refresh (EventBridge Scheduler)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mixcore import runtime
from mixcore.container import get_store
from mixcore.leaderboards.service import run_scheduled
from mixcore.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # responses hold keys' data and answers: not for X-Ray
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runtime.run(run_scheduled(get_store(), event.get("sources")))
