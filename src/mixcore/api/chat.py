"""POST /v1/chat/completions: the OpenAI-compatible chat endpoint, streaming or not."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from mixcore import runtime
from mixcore.api.resolver import caller_key_id, new_resolver
from mixcore.api.schemas import ChatCompletionRequest
from mixcore.container import get_cost_sink, get_gateway
from mixcore.mixes.gateway import StreamResult


async def _drain(result: StreamResult) -> str:
    # API Gateway buffers Lambda responses, so the SSE stream is produced whole and returned at once.
    return "".join([line async for line in result.lines])


def build_chat_app() -> APIGatewayHttpResolver:
    app = new_resolver()

    @app.post("/v1/chat/completions")
    def chat_completions(body: ChatCompletionRequest) -> Response[str]:
        key_id = caller_key_id(app)
        gateway = get_gateway()
        try:
            if body.stream:
                result = runtime.run(gateway.stream(body, key_id))
                text = runtime.run(_drain(result))
                headers = {**result.headers, "cache-control": "no-cache"}
                return Response(200, "text/event-stream", text, headers=headers)
            answer = runtime.run(gateway.complete(body, key_id))
            return Response(200, "application/json", json.dumps(answer.body), headers=answer.headers)
        finally:
            get_cost_sink().flush()

    return app
