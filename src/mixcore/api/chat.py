"""POST /v1/chat/completions: the OpenAI-compatible chat endpoint, streaming or not."""

from __future__ import annotations

import json
import time

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from mixcore import runtime
from mixcore.api.resolver import caller_key_id, caller_limits, new_resolver
from mixcore.api.schemas import ChatCompletionRequest
from mixcore.container import get_cost_sink, get_gateway, get_store
from mixcore.costs.limits import check_before_call, record_spend
from mixcore.errors import MixcoreError
from mixcore.mixes.gateway import StreamResult
from mixcore.observability import emit_request_metrics, emit_sink_metrics


async def _drain(result: StreamResult) -> str:
    # API Gateway buffers Lambda responses, so the SSE stream is produced whole and returned at once.
    return "".join([line async for line in result.lines])


def build_chat_app() -> APIGatewayHttpResolver:
    return register_chat_routes(new_resolver())


def register_chat_routes(app: APIGatewayHttpResolver) -> APIGatewayHttpResolver:

    @app.post("/v1/chat/completions")
    def chat_completions(body: ChatCompletionRequest) -> Response[str]:
        key_id = caller_key_id(app)
        budget, rpm = caller_limits(app)
        limited = budget is not None or rpm is not None
        gateway = get_gateway()
        record = None
        status = 500
        started = time.monotonic()
        try:
            # Inside the try, so a 402/429 refusal is counted in the metrics (BudgetBreaches) like any answer.
            if limited:
                check_before_call(get_store(), key_id, monthly_budget_usd=budget, requests_per_minute=rpm)
            if body.stream:
                result = runtime.run(gateway.stream(body, key_id))
                text = runtime.run(_drain(result))
                record = result.record
                headers = {**result.headers, "cache-control": "no-cache"}
                status = 200
                return Response(200, "text/event-stream", text, headers=headers)
            answer = runtime.run(gateway.complete(body, key_id))
            record = answer.record
            status = 200
            return Response(200, "application/json", json.dumps(answer.body), headers=answer.headers)
        except MixcoreError as error:
            status = error.status
            raise
        finally:
            sink = get_cost_sink()
            sink.flush()
            emit_request_metrics(record, status=status, latency_ms=(time.monotonic() - started) * 1000)
            emit_sink_metrics(getattr(sink, "stats", None))
            if limited and record is not None:
                record_spend(get_store(), key_id, record.cost_usd)

    return app
