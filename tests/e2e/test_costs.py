"""Cost records end to end: N requests through the SDK → N records in the embedded S3, to the cent."""

from __future__ import annotations

import json

import openai
import pytest

from tests.e2e.conftest import RunningStack, cli

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Price this, please."}]


@pytest.fixture
def ready(indexed: RunningStack) -> RunningStack:
    indexed.reset()
    return indexed


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
    records = ready.records_for(set(costs))
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
    with pytest.raises(openai.APIStatusError) as over:  # one call could cost more than the whole budget
        client.chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert over.value.status_code == 402
    assert isinstance(over.value.body, dict) and over.value.body["code"] == "budget_exceeded"
    assert ready.provider_calls()["calls"] == []
    limited = cli(ready, "keys", "create", "--name", "slow", "--rpm", "1")
    slow = ready.client(api_key=limited.stdout.strip().splitlines()[-1])
    slow.chat.completions.create(model="openai/gpt-4o", messages=USER)
    with pytest.raises(openai.RateLimitError):
        slow.chat.completions.create(model="openai/gpt-4o", messages=USER)
