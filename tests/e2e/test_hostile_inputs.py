"""Hostile input against `mixcore serve` (issue 13): every case is a clean OpenAI-shaped 4xx, never a 500.

Bodies go out as raw bytes over httpx (the SDK cannot send broken UTF-8); each case also checks
that no provider was called. A bounded fuzz run then sends generated requests with the real model
and mix ids, so that they reach the gateway rather than a 404.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import DEV_KEY, RunningStack

pytestmark = pytest.mark.e2e
ANTHROPIC = "anthropic/claude-haiku-4-5"


def body(model: str = "openai/gpt-4o-mini", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, **fields}


def with_message(message: dict[str, Any], model: str = ANTHROPIC) -> bytes:
    return json.dumps(body(model, messages=[{"role": "user", "content": "hi"}, message])).encode()


HOSTILE: dict[str, bytes] = {
    "invalid UTF-8": b'{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"\xff\xfe\xfd"}]}',
    "UTF-16": json.dumps(body()).encode("utf-16"),
    "JSON nested 3,000 deep": ('{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],'
                               '"response_format":{"a":' + "[" * 3000 + "]" * 3000 + "}}").encode(),
    "a lone surrogate": b'{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"a\\ud800b"}]}',
    "tools without a function": json.dumps(body(ANTHROPIC, tools=[{"type": "function"}])).encode(),
    "image_url as a string": with_message({"role": "user", "content": [{"type": "image_url",
                                                                        "image_url": "http://x/y.png"}]}),
    "tool_calls[].function as a string": with_message({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": "get_weather"}]}),
    "arguments as an object": with_message({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"city": "Paris"}}}]}),
    "a system text part that is an int": json.dumps(body(ANTHROPIC, messages=[
        {"role": "system", "content": [{"type": "text", "text": 42}]}, {"role": "user", "content": "hi"}])).encode(),
    "CRLF in the model name": json.dumps(body("openai/gpt-4o\r\nx-injected: yes")).encode(),
    "a non-Latin-1 model name": json.dumps(body("openai/gpt-4o-\u2603")).encode(),
    "an unknown field (billed at a premium)": json.dumps(body(service_tier="priority")).encode(),
    "store: true": json.dumps(body(store=True)).encode(),
    "an unrecognised field": json.dumps(body(web_search_options={})).encode(),
}


def post(stack: RunningStack, data: bytes, key: str = DEV_KEY) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/chat/completions", content=data, timeout=30,
                      headers={"authorization": f"Bearer {key}", "content-type": "application/json"})


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_a_clean_4xx_before_any_upstream_call(clean_stack: RunningStack, case: str) -> None:
    response = post(clean_stack, HOSTILE[case])
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert {"message", "type", "param", "code"} <= set(error) and error["type"] == "invalid_request_error"
    assert "x-injected" not in response.headers and response.headers["x-request-id"].startswith("chatcmpl-")
    assert clean_stack.provider_calls()["calls"] == []


@pytest.mark.parametrize("data", [HOSTILE["invalid UTF-8"], b"x" * 2_000_000], ids=["bad body", "oversized body"])
def test_a_bad_key_is_a_401_whatever_the_body(clean_stack: RunningStack, data: bytes) -> None:
    response = post(clean_stack, data, key="mx-not-a-key")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_dropped_fields_are_accepted_and_never_forwarded(clean_stack: RunningStack) -> None:
    response = post(clean_stack, json.dumps(body(service_tier="auto", store=False, logprobs=True)).encode())
    assert response.status_code == 200, response.text[:300]
    sent = clean_stack.provider_calls()["calls"][0]["body"]
    assert sent["logprobs"] is True and "service_tier" not in sent and "store" not in sent


# Fuzzing with the real ids ------------------------------------------------------------------------------

TEXT = st.text(max_size=40) | st.sampled_from(["", "a\\ud800b", "\u0000", "\u202e", "x" * 300])
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=8)
PART = st.one_of(st.fixed_dictionaries({"type": st.just("text"), "text": TEXT | JSON_VALUE}),
                 st.fixed_dictionaries({"type": st.just("image_url"),
                                        "image_url": st.just({"url": "data:image/png;base64,iVBORw0KGgo="})
                                        | TEXT | JSON_VALUE}),
                 st.dictionaries(TEXT, JSON_VALUE, max_size=2))
TOOL_CALL = st.fixed_dictionaries({"id": TEXT, "type": st.just("function"),
                                   "function": st.fixed_dictionaries({"name": TEXT, "arguments": TEXT | JSON_VALUE})
                                   | TEXT})
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "robot"]),
     "content": TEXT | st.lists(PART, max_size=3) | st.none() | st.integers()},
    optional={"tool_calls": st.lists(TOOL_CALL, max_size=2), "name": TEXT, "tool_call_id": TEXT})


ROUTE = st.fixed_dictionaries({}, optional={"strong_share": st.floats(-1, 2) | TEXT | JSON_VALUE,
                                            "threshold": st.floats(allow_nan=False) | TEXT,
                                            "max_cost_usd": st.floats(-1, 10) | TEXT})


def request_bodies(models: list[str]) -> st.SearchStrategy[bytes]:
    fields = st.fixed_dictionaries(
        {"model": st.sampled_from(models) | TEXT, "messages": st.lists(MESSAGE, min_size=1, max_size=3)},
        optional={"max_tokens": st.integers(-5, 10**9), "temperature": st.floats(-1, 3) | TEXT,
                  "stream": st.booleans(), "n": st.integers(-1, 20),
                  "tools": st.lists(st.just({"type": "function"}) | st.dictionaries(TEXT, JSON_VALUE, max_size=2)
                                    | st.just({"type": "function", "function": {"name": "f"}}), max_size=2),
                  "stop": TEXT | st.lists(TEXT, max_size=3), "mix": JSON_VALUE, "models": st.lists(TEXT, max_size=2),
                  "service_tier": TEXT, "seed": JSON_VALUE, "route": ROUTE | JSON_VALUE})
    # json.dumps escapes the sentinel's backslash: undo it so that a lone surrogate escape reaches the server.
    return fields.map(lambda f: json.dumps(f).replace("\\\\ud800", "\\ud800").encode())


FUZZ_EXAMPLES = 150


def test_fuzzing_chat_with_real_ids_finds_no_server_error(indexed: RunningStack,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    indexed.reset()
    listed = httpx.get(f"{indexed.base_url}/models", headers={"authorization": f"Bearer {DEV_KEY}"}, timeout=30)
    ids = [m["id"] for m in listed.json()["data"]]
    # Direct models, index mixes, the cheapest composite and each kind of route mix: the gateway is reached, the
    # run stays short.
    direct_and_index = [i for i in ids if not i.startswith(("synthesis/", "cascade/", "vote/", "route/"))][:60]
    routes = ["route/auto", "route/cascade/math", "index/auto"]
    assert set(routes) <= set(ids)
    models = [*direct_and_index, "synthesis/moa-lite", *routes]
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=request_bodies(models))
    def run(data: bytes) -> None:
        response = post(indexed, data)
        statuses[response.status_code] += 1
        if response.status_code >= 500 and response.status_code not in (502, 503, 504):
            failures.append(f"{response.status_code}: {data[:200]!r} -> {response.text[:200]}")
        if response.status_code >= 400:
            assert {"message", "type", "param", "code"} <= set(response.json()["error"]), response.text[:200]

    run()
    with capsys.disabled():
        print(f"\nchat fuzz report: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert failures == []
    assert statuses[404] < sum(statuses.values()) / 2  # most requests reach the gateway, not a 404
