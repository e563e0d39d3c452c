"""IndexerFunction: the scheduled leaderboard refresh (EventBridge Scheduler)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mixcore import runtime
from mixcore.container import get_store
from mixcore.leaderboards.service import metric_counts, run_scheduled
from mixcore.leaderboards.views import age_hours
from mixcore.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store = get_store()
    report = runtime.run(run_scheduled(store, event.get("sources")))
    for outcome in report.outcomes:
        if outcome.action == "rejected":
            logger.warning("ranking rejected", extra={"source": outcome.source, "category": outcome.category,
                                                      "reason": outcome.reason, "origin": outcome.origin})
    counts = metric_counts(report)
    metrics.add_metric(name="IndexerRejections", unit=MetricUnit.Count, value=counts["rejected"])
    metrics.add_metric(name="IndexerStored", unit=MetricUnit.Count, value=counts["stored"])
    metrics.add_metric(name="IndexerFailedSources", unit=MetricUnit.Count, value=counts["failed_sources"])
    oldest = max((age_hours(r) or 0.0 for r in store.list_latest()), default=0.0)
    metrics.add_metric(name="LeaderboardMaxAgeHours", unit=MetricUnit.Count, value=oldest)
    logger.info("indexer run", extra=counts)
    return {**counts, "failed": report.failed_sources}
