"""Cost records end to end: N requests through the SDK → N records in the embedded S3, to the cent."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import openai
import pytest

from mixcore.costs.report import read_records
from tests.e2e.conftest import RunningStack, cli

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Price this, please."}]


@pytest.fixture
def ready(indexed: RunningStack) -> RunningStack:
    indexed.reset()
    return indexed


def s3(stack: RunningStack) -> Any:
    return boto3.client("s3", endpoint_url=stack.aws_endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def records_for(stack: RunningStack, request_ids: set[str], wait_seconds: float = 10.0) -> dict[str, Any]:
    """Every cost record in the embedded S3, once those of `request_ids` have landed.

    Records are delivered after the answer's last byte, so the newest may land a moment after the
    client has its answer; this waits a bounded time for them, then fails naming the missing ones.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        records = {r["request_id"]: r for r in read_records(s3(stack), "mixcore-costbucket")}
        missing = request_ids - set(records)
        if not missing:
            return records
        assert time.monotonic() < deadline, f"no cost record for {sorted(missing)}"
        time.sleep(0.1)


def test_every_request_has_a_record_and_totals_match(ready: RunningStack) -> None:
    client = ready.client()
    answers = [client.chat.completions.create(model="openai/gpt-4o-mini", messages=USER),
               client.chat.completions.create(model="index/lmsys-math", messages=USER),
               client.chat.completions.create(model="synthesis/moa-lite", messages=USER)]
    ready.behaviour("anthropic", {"status": 503})  # a failed fallback inside an index mix
    answers.append(client.chat.completions.create(model="index/lmsys-coding", messages=USER))
    streamed = list(client.chat.completions.create(model="openai/gpt-4o", messages=USER, stream=True,
                                                   stream_options={"include_usage": True}))
    costs = {a.id: (a.usage.model_extra or {})["cost"] for a in answers if a.usage}
    costs[streamed[-1].id] = (streamed[-1].usage.model_extra or {})["cost"]  # type: ignore[union-attr]
    records = records_for(ready, set(costs))
    assert sum(records[i]["cost_usd"] for i in costs) == pytest.approx(sum(costs.values()), abs=0.005)
    for request_id, cost in costs.items():
        assert records[request_id]["cost_usd"] == pytest.approx(cost)
    fallback = records[answers[3].id]
    assert fallback["calls"][0]["outcome"] == "error"
    assert json.dumps(fallback).count("sk-") == 0  # no provider key in a record

    summary = cli(ready, "costs", "--by", "mix")
    assert summary.returncode == 0, summary.stderr
    total_line = summary.stdout.strip().splitlines()[-1]
    assert total_line.startswith(f"total: {len(records)} requests")


def test_budget_and_rate_limit_per_key(ready: RunningStack) -> None:
    created = cli(ready, "keys", "create", "--name", "tight", "--budget", "0.000001", "--rpm", "100")
    key = created.stdout.strip().splitlines()[-1]
    client = ready.client(api_key=key)
    client.chat.completions.create(model="openai/gpt-4o", messages=USER)  # spends more than the budget
    with pytest.raises(openai.APIStatusError) as over:
        client.chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert over.value.status_code == 402
    assert isinstance(over.value.body, dict) and over.value.body["code"] == "budget_exceeded"
    limited = cli(ready, "keys", "create", "--name", "slow", "--rpm", "1")
    slow = ready.client(api_key=limited.stdout.strip().splitlines()[-1])
    slow.chat.completions.create(model="openai/gpt-4o", messages=USER)
    with pytest.raises(openai.RateLimitError):
        slow.chat.completions.create(model="openai/gpt-4o", messages=USER)
