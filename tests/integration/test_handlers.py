"""The Lambda handlers invoked with the events/ payloads, against moto and local HTTP providers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mixcore.auth.keys import hash_key, new_key
from mixcore.catalog import get_catalog
from mixcore.container import get_store
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.gateway import Gateway
from tests.integration.conftest import load_event

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


def expected_cost(model_id: str, prompt: int, completion: int) -> float:
    price = get_catalog().get(model_id).price  # type: ignore[union-attr]
    assert price is not None
    return (prompt * price.input + completion * price.output) / 1_000_000


def test_chat_event_answers_with_model_usage_and_cost(invoke: Invoke, wired: Gateway) -> None:
    response = invoke("ChatFunction", load_event("chat_completion.json"))
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["model"] == "openai/gpt-4o"
    assert "openai/gpt-4o" in body["choices"][0]["message"]["content"]
    usage = body["usage"]
    # gpt-4o in models.dev (tests/fixtures/pricing): $2.50 in / $10 out per 1M tokens.
    assert usage["cost"] == pytest.approx((usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10) / 1e6)
    assert response["headers"]["x-mix-model"] == "openai/gpt-4o"
    assert float(response["headers"]["x-mix-cost-usd"]) == pytest.approx(usage["cost"], abs=1e-8)
    assert body["mix"]["attempts"] == [{"model": "openai/gpt-4o", "outcome": "ok",
                                        "latency_ms": body["mix"]["attempts"][0]["latency_ms"]}]


def test_stream_event_returns_sse_with_usage_chunk(invoke: Invoke, wired: Gateway) -> None:
    response = invoke("ChatFunction", load_event("chat_completion_stream.json"))
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response["body"].split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "anthropic/claude-sonnet-4-5" in text
    final = chunks[-1]
    assert final["choices"] == []
    usage = final["usage"]
    assert usage["cost"] == pytest.approx(expected_cost("anthropic/claude-sonnet-4-5", usage["prompt_tokens"],
                                                        usage["completion_tokens"]))
    assert {c["model"] for c in chunks} == {"anthropic/claude-sonnet-4-5"}


def test_upstream_failure_is_openai_shaped_502(invoke: Invoke, wired: Gateway, demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(status=500))
    response = invoke("ChatFunction", load_event("chat_completion.json"))
    assert response["statusCode"] == 502
    error = json.loads(response["body"])["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["attempts"][0]["status"] == 500


@pytest.mark.parametrize(("body", "status", "code"), [
    ("{not json", 400, "invalid_json"),
    (json.dumps({"model": "openai/gpt-4o"}), 400, "invalid_request"),
    (json.dumps({"model": "openai/gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}), 400,
     "invalid_request"),
    (json.dumps({"model": "nobody/none", "messages": [{"role": "user", "content": "x"}]}), 404, "model_not_found"),
    (json.dumps({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "x"}], "n": 99}), 400,
     "invalid_request"),
])
def test_bad_input_gets_openai_error_shape(invoke: Invoke, wired: Gateway, body: str, status: int,
                                           code: str) -> None:
    event = load_event("chat_completion.json")
    event["body"] = body
    response = invoke("ChatFunction", event)
    assert response["statusCode"] == status
    error = json.loads(response["body"])["error"]
    assert error["code"] == code
    assert set(error) >= {"message", "type", "param", "code"}


def test_oversized_body_is_413(invoke: Invoke, wired: Gateway) -> None:
    event = load_event("chat_completion.json")
    event["body"] = json.dumps({"model": "openai/gpt-4o",
                                "messages": [{"role": "user", "content": "x" * 1_100_000}]})
    response = invoke("ChatFunction", event)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"]["code"] == "request_too_large"


def test_missing_authorizer_context_is_401(invoke: Invoke, wired: Gateway) -> None:
    event = load_event("chat_completion.json")
    del event["requestContext"]["authorizer"]  # as if invoked without going through the authorizer
    response = invoke("ChatFunction", event)
    assert response["statusCode"] == 401
    error = json.loads(response["body"])["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "authentication_error"


def test_models_event_lists_catalog_models(invoke: Invoke, wired: Gateway) -> None:
    response = invoke("CatalogFunction", load_event("models.json"))
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    ids = {m["id"] for m in body["data"]}
    assert body["object"] == "list"
    assert {"openai/gpt-4o", "anthropic/claude-sonnet-4-5"} <= ids


def test_authorizer_checks_stored_hash_and_revocation(invoke: Invoke, aws: Any) -> None:
    store = get_store()
    _, record = new_key("events")
    record.key_hash = hash_key("mx-events-key")
    store.put_key(record)
    event = load_event("authorizer.json")
    answer = invoke("AuthorizerFunction", event)
    assert answer["context"]["key_id"] == record.key_id
    # Allowed on the whole API, because API Gateway caches the answer per key for every route.
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow",
         "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/api/*/*"}]
    store.revoke_key(record.key_id)
    revoked = invoke("AuthorizerFunction", event)
    assert revoked["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert revoked["context"] == {"reason": "This API key has been revoked."}
    event["headers"]["authorization"] = "Bearer mx-somebody-else"
    denied = invoke("AuthorizerFunction", event)
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert denied["context"] == {"reason": "Incorrect API key provided."}
    # Only the hash is stored.
    assert all("mx-events-key" not in json.dumps(k.model_dump()) for k in store.list_keys())


def test_leaderboard_endpoints_after_a_refresh_from_fixtures(invoke: Invoke, wired: Gateway) -> None:
    import asyncio

    from mixcore.leaderboards.fetch import LocalFetcher
    from mixcore.leaderboards.indexer import refresh
    from tests.conftest import FIXTURES

    store = get_store()
    asyncio.run(refresh(store, LocalFetcher(FIXTURES / "leaderboards"), ["lmsys"]))
    listing = json.loads(invoke("CatalogFunction", {**load_event("models.json"), "path": "/v1/leaderboards",
                                                    "resource": "/v1/leaderboards"})["body"])
    categories = {(r["source"], r["category"]) for r in listing["data"]}
    assert {("lmsys", "coding"), ("lmsys", "overall"), ("lmsys", "vision")} <= categories
    response = invoke("CatalogFunction", load_event("leaderboard.json"))
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    raw = json.loads((FIXTURES / "leaderboards" / "lmsys" /
                      "arena-catalog_leaderboard-text-style-control_2025-12-17.json").read_text())["coding"]
    assert len(body["entries"]) == len(raw)
    first = body["entries"][0]
    assert first["name"] == "claude-opus-4-5-20251101-thinking-32k"
    assert first["model"] == "anthropic/claude-opus-4-5-20251101:thinking-32k"  # the variant the arena ranked
    assert first["score"] == pytest.approx(raw[first["name"]]["rating"], abs=1e-3)
    assert len(body["history"]) == 2  # the 2025-07-24 overview, then the arena-catalog file


def test_unknown_leaderboard_is_404(invoke: Invoke, wired: Gateway) -> None:
    event = load_event("leaderboard.json")
    event["path"] = "/v1/leaderboards/lmsys/no-such-category"
    event["pathParameters"] = {"source": "lmsys", "category": "no-such-category"}
    response = invoke("CatalogFunction", event)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"


@pytest.mark.parametrize("history", ["²", "-1", "101", "two"])
def test_a_history_that_is_not_a_small_whole_number_is_400(invoke: Invoke, wired: Gateway, history: str) -> None:
    # "²".isdigit() is True but int("²") fails: it used to be a 500.
    event = load_event("leaderboard.json")
    event["queryStringParameters"] = {"history": history}
    event["multiValueQueryStringParameters"] = {"history": [history]}
    response = invoke("CatalogFunction", event)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["param"] == "history"
