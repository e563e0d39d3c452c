"""Read endpoints: GET /v1/models (OpenAI list format) and the mix and leaderboard views."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from mixcore import __version__
from mixcore.api.resolver import new_resolver
from mixcore.catalog import Catalog
from mixcore.container import get_gateway, get_store
from mixcore.errors import InvalidRequest, NotFound
from mixcore.leaderboards import views
from mixcore.leaderboards.snapshot import all_latest, latest_ranking
from mixcore.schemas import ChatCompletionRequest

CREATED = 1_700_000_000


def model_list(catalog: Catalog) -> list[dict[str, Any]]:
    """Every mix, then every catalog model whose provider is configured (OpenAI's list format)."""
    gateway = get_gateway()
    mixes = [{"id": mix.id, "object": "model", "created": CREATED, "owned_by": "mixcore", "mix_kind": mix.kind,
              "description": mix.description} for mix in gateway.registry.mixes().values()]
    configured = {name for name, p in gateway.upstream.providers.items() if p.configured}
    # Prices (USD per 1M tokens) are the live catalog's: what the cost records of a call made now would charge.
    models = [{"id": m.id, "object": "model", "created": CREATED, "owned_by": m.provider,
               "pricing": m.price.model_dump(exclude_none=True) if m.price else None}
              for m in catalog.models.values() if m.provider in configured]
    return mixes + models


def build_catalog_app() -> APIGatewayRestResolver:
    app = register_catalog_routes(new_resolver())

    @app.get("/openapi.json")
    def openapi() -> Response[str]:
        return Response(200, "application/json", openapi_document())

    return app


@lru_cache(maxsize=1)
def openapi_document() -> str:
    """The OpenAPI document Powertools generates from every route and pydantic model of the API."""
    everything = register_catalog_routes(document_chat_route(new_resolver()))
    return everything.get_openapi_json_schema(title="Mixcore", version=__version__,
                                              description="OpenAI-compatible API serving LLM mixes.")


def document_chat_route(app: APIGatewayRestResolver) -> APIGatewayRestResolver:
    """The chat route, for the OpenAPI document only: it is served by the streaming ASGI app (api/chat.py)."""

    @app.post("/v1/chat/completions")
    def chat_completions(body: ChatCompletionRequest) -> Response[str]:  # pragma: no cover - never routed here
        raise NotFound("POST /v1/chat/completions is served by the chat function.")

    return app


def register_catalog_routes(app: APIGatewayRestResolver) -> APIGatewayRestResolver:

    @app.get("/v1/models")
    def list_models() -> Response[str]:
        catalog = get_gateway().upstream.catalogs.begin_request()  # one catalog for the whole answer
        listing = {"object": "list", "data": model_list(catalog), "catalog_version": catalog.version}
        return Response(200, "application/json", json.dumps(listing))

    @app.get("/v1/mixes")
    def list_mixes() -> Response[str]:
        data = [{"id": m.id, "object": "mix", "kind": m.kind, "description": m.description}
                for m in get_gateway().registry.mixes().values()]
        return Response(200, "application/json", json.dumps({"object": "list", "data": data}))

    @app.get("/v1/mixes/<kind>/<name>")
    def show_mix(kind: str, name: str) -> Response[str]:
        return Response(200, "application/json", json.dumps(get_gateway().registry.describe(f"{kind}/{name}")))

    @app.get("/v1/leaderboards")
    def list_leaderboards() -> Response[str]:
        data = [views.summary(r) for r in all_latest(get_store())]
        return Response(200, "application/json", json.dumps({"object": "list", "data": data}))

    @app.get("/v1/leaderboards/<source>/<category>")
    def leaderboard(source: str, category: str) -> Response[str]:
        raw = app.current_event.get_query_string_value("history", "0") or "0"
        if not (raw.isascii() and raw.isdigit()) or int(raw) > 100:
            raise InvalidRequest("history must be a whole number from 0 to 100.", param="history")
        store = get_store()
        ranking = latest_ranking(store, source, category)
        if ranking is None:
            raise NotFound(f"No ranking stored for {source}/{category}. See GET /v1/leaderboards.")
        history = store.history(source, category, int(raw)) if int(raw) else None
        body = views.detail(ranking, get_gateway().upstream.catalogs.begin_request(), history)
        return Response(200, "application/json", json.dumps(body))

    return app
