"""Property-based fuzzing of the served OpenAPI document (schemathesis), bounded in count and time.

It targets only the local stack on loopback and prints a short report of what it tried.
"""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.e2e.conftest import DEV_KEY, RunningStack

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = 25


def test_openapi_document_is_served_without_a_key(stack: RunningStack) -> None:
    document = httpx.get(stack.base_url.removesuffix("/v1") + "/openapi.json", timeout=30).json()
    assert document["info"]["title"] == "Mixcore"
    assert {"/v1/chat/completions", "/v1/models", "/v1/mixes/{kind}/{name}"} <= set(document["paths"])


def test_fuzzing_finds_no_server_error(stack: RunningStack, capsys: pytest.CaptureFixture[str]) -> None:
    root = stack.base_url.removesuffix("/v1")
    schema = schemathesis.openapi.from_url(f"{root}/openapi.json")
    tried: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    def fuzz(op: schemathesis.APIOperation) -> None:
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=root, headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=30)
            tried[f"{op.method.upper()} {op.path}"] += 1
            statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code not in (502, 503, 504):
                failures.append(f"{op.method.upper()} {op.path} -> {response.status_code}: {response.text[:200]}")
            if response.status_code >= 400:
                body = response.json()
                assert "error" in body or "message" in body, response.text[:200]
                if "error" in body:
                    assert {"message", "type", "param", "code"} <= set(body["error"])

        run()

    for operation in schema.get_all_operations():
        fuzz(operation.ok())
    with capsys.disabled():
        print("\nfuzz report: tried", dict(tried), "statuses", dict(sorted(statuses.items())))
    assert sum(tried.values()) >= len(tried) and len(tried) >= 6
    assert failures == []
