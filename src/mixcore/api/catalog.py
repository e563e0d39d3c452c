"""Read endpoints: GET /v1/models (OpenAI list format) and the mix and leaderboard views."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from mixcore.api.resolver import caller_key_id, new_resolver
from mixcore.container import get_gateway

CREATED = 1_700_000_000


def model_list() -> list[dict[str, Any]]:
    gateway = get_gateway()
    configured = {name for name, p in gateway.providers.items() if p.configured}
    models = [{"id": m.id, "object": "model", "created": CREATED, "owned_by": m.provider}
              for m in gateway.catalog.models.values() if m.provider in configured]
    return models


def build_catalog_app() -> APIGatewayHttpResolver:
    app = new_resolver()

    @app.get("/v1/models")
    def list_models() -> Response[str]:
        caller_key_id(app)
        return Response(200, "application/json", json.dumps({"object": "list", "data": model_list()}))

    return app
