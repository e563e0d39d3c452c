"""Budgets against everything a request can carry (issue 26): each attack the adversarial review measured, replayed
with the official SDK against `mixcore serve`, its ratio printed.

The local providers report what a real provider would bill for the attack (the `usage` they are told to report,
or their own count of what they received and sent); the provider-billed spend is that usage at the catalog's
price, summed over the calls the providers received. A test holds when the key's counter equals that spend and
the spend stays within the budget (a provider that ignores the cap it was sent: one call past it, then refused).
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from tests.e2e.conftest import RunningStack
from tests.e2e.test_money import CATALOG, USER, create_key, month_counters

pytestmark = pytest.mark.e2e
MODEL = "openai/gpt-4o-mini"  # $0.15 in, $0.60 out per 1M tokens (models.dev)
IN, OUT = CATALOG[MODEL]["price"]["input"], CATALOG[MODEL]["price"]["output"]
# English prose of 4,000 characters, as an honest long prompt is.
SENTENCE = "The committee reviewed the quarterly figures and asked the team to explain the change in costs. "
PROSE = (SENTENCE * (4_000 // len(SENTENCE) + 1))[:4_000]


def billed(usage: dict[str, int], calls: int = 1) -> float:
    """What the provider bills for `calls` calls each reporting `usage`, at the catalog's price."""
    return calls * (usage["prompt_tokens"] * IN + usage["completion_tokens"] * OUT) / 1_000_000


def ratio(name: str, spend: float, budget: float) -> None:
    print(f"\n[budget attack] {name}: provider-billed ${spend:.6f} on a ${budget:.6f} budget = "
          f"{spend / budget:.2f}× the budget")


@pytest.fixture
def ready(indexed: RunningStack) -> RunningStack:
    indexed.reset()
    return indexed


def received(stack: RunningStack) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = stack.provider_calls()["calls"]
    return calls


def test_legacy_functions_are_bounded_and_billed_as_the_provider_reports(ready: RunningStack) -> None:
    # 820 KB of function definitions; the provider bills 205,000 prompt tokens for each call (4 bytes a token).
    functions = [{"name": f"lookup_{i}", "description": SENTENCE * 8,
                  "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}
                 for i in range(930)]
    assert 800_000 < len(json.dumps(functions)) < 850_000
    usage = {"prompt_tokens": 205_000, "completion_tokens": 5}
    budget = 0.05
    secret, key_id = create_key(ready, "--budget", str(budget))
    ready.behaviour(MODEL, {"usage": usage})
    client = ready.client(api_key=secret)

    def ask(_: int) -> int:
        try:
            client.chat.completions.create(model=MODEL, messages=USER, functions=functions, max_tokens=20)
            return 200
        except openai.APIStatusError as error:
            return error.status_code

    statuses: list[int] = []
    for _ in range(2):  # two waves of five
        with ThreadPoolExecutor(max_workers=5) as pool:
            statuses += list(pool.map(ask, range(5)))
    spend = billed(usage, len(received(ready)))
    ratio("820 KB of functions", spend, budget)
    assert statuses.count(200) == len(received(ready)) >= 1
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(spend, abs=1e-9)
    assert spend <= budget


def test_a_file_part_cannot_be_sent_on_a_budget_and_costs_nothing(ready: RunningStack) -> None:
    pdf = base64.b64encode(b"%PDF-1.7\n" + b"0" * 600_000).decode()[:700_000]
    secret, key_id = create_key(ready, "--budget", "0.01")
    content = [{"type": "text", "text": "Summarise this."},
               {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{pdf}"}}]
    with pytest.raises(openai.BadRequestError) as refused:
        ready.client(api_key=secret).chat.completions.create(model=MODEL, max_tokens=50,
                                                             messages=[{"role": "user", "content": content}])
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "unbounded_for_budget"
    assert received(ready) == []
    ratio("600 KB PDF part", 0.0, 0.01)
    assert month_counters(ready, key_id).get("cost_usd", 0.0) == 0.0


def test_tool_call_arguments_are_billed_when_the_provider_reports_no_usage(ready: RunningStack) -> None:
    # The provider answers with 42 KB of tool-call arguments and no usage: the estimate counts them.
    arguments = json.dumps({"rows": [SENTENCE] * 420})
    assert 40_000 < len(arguments) < 44_000
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "save", "arguments": arguments}}]}}]}
    secret, key_id = create_key(ready, "--budget", "1")
    ready.behaviour(MODEL, {"raw_body": json.dumps(body)})
    tools = [{"type": "function", "function": {"name": "save", "parameters": {"type": "object"}}}]
    answer = ready.client(api_key=secret).chat.completions.create(model=MODEL, messages=USER, tools=tools)
    record = ready.records_for({answer.id})[answer.id]
    call = record["calls"][0]
    # At least a token per four characters of what was returned (the demo's and OpenAI's rule of thumb)
    assert call["estimated"] is True and call["completion_tokens"] >= len(arguments) // 4
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(record["cost_usd"], abs=1e-9)
    print(f"\n[budget attack] 42 KB of tool-call arguments, no usage reported: {call['completion_tokens']} output "
          f"tokens charged (before: 0), {call['completion_tokens'] / (len(arguments) / 4):.2f}× a token per 4 "
          "characters")


def test_every_choice_of_n_is_billed(ready: RunningStack) -> None:
    usage = {"prompt_tokens": 44, "completion_tokens": 8_000}  # 8 choices of 1,000 tokens
    budget = 0.02
    secret, key_id = create_key(ready, "--budget", str(budget))
    ready.behaviour(MODEL, {"usage": usage})
    answer = ready.client(api_key=secret).chat.completions.create(model=MODEL, messages=USER, n=8, max_tokens=1_000)
    record = ready.records_for({answer.id})[answer.id]
    assert record["calls"][0]["completion_tokens"] == 8_000 and record["calls"][0]["beyond_bounds"] is False
    spend = billed(usage)
    ratio("n=8", spend, budget)
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(spend, abs=1e-9) and spend <= budget


def test_both_caps_send_one_and_no_cap_sends_the_one_reserved(ready: RunningStack) -> None:
    model = "mistral/codestral-latest"
    price = CATALOG[model]["price"]
    usage = {"prompt_tokens": 44, "completion_tokens": 1}  # what the provider bills each call
    budget = 0.005
    secret, key_id = create_key(ready, "--budget", str(budget))
    ready.behaviour(model, {"usage": usage})
    client = ready.client(api_key=secret)
    client.chat.completions.create(model=model, messages=USER, max_completion_tokens=1, max_tokens=8_000)
    client.chat.completions.create(model=model, messages=USER)
    first, second = (call["body"] for call in received(ready))
    caps = ("max_tokens", "max_completion_tokens")
    assert [first[c] for c in caps if c in first] == [1]
    sent = [second[c] for c in caps if c in second]
    assert len(sent) == 1 and 16 <= sent[0] <= CATALOG[model]["max_output_tokens"]
    spend = 2 * (usage["prompt_tokens"] * price["input"] + usage["completion_tokens"] * price["output"]) / 1e6
    ratio("max_completion_tokens=1 + max_tokens=8000, then no cap", spend, budget)
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(spend, abs=1e-9) and spend <= budget


def test_a_provider_that_ignores_the_cap_overshoots_by_one_call_then_the_key_is_refused(
        ready: RunningStack) -> None:
    usage = {"prompt_tokens": 44, "completion_tokens": 20_000}  # asked for 50 tokens, billed 20,000
    budget = 0.005
    secret, key_id = create_key(ready, "--budget", str(budget))
    ready.behaviour(MODEL, {"usage": usage})
    client = ready.client(api_key=secret)
    answer = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=50)
    record = ready.records_for({answer.id})[answer.id]
    assert record["calls"][0]["beyond_bounds"] is True and record["calls"][0]["completion_tokens"] == 20_000
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model=MODEL, messages=USER, max_tokens=50)
    assert refused.value.status_code == 402
    spend = billed(usage)
    ratio("a provider ignoring max_tokens=50 (one call)", spend, budget)
    assert len(received(ready)) == 1
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(spend, abs=1e-9)


def test_a_paid_model_listed_at_zero_cannot_be_called_on_a_budget(ready: RunningStack) -> None:
    secret, _ = create_key(ready, "--budget", "0.0001")
    with pytest.raises(openai.BadRequestError) as refused:
        ready.client(api_key=secret).chat.completions.create(model="groq/groq/compound", messages=USER,
                                                             max_tokens=10)
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "model_price_unknown"
    assert received(ready) == []


# Honest small budgets. What the provider bills for one PROSE request: its prompt (the demo's count, 4 characters
# a token, plus 3 for the message) and 16 answer tokens.
HONEST = {"prompt_tokens": (4_000 + 3) // 4 + 3, "completion_tokens": 16}


def ask_prose(client: openai.OpenAI, max_tokens: int = 16) -> tuple[int, Any]:
    try:
        answer = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": PROSE}], max_tokens=max_tokens)
        return 200, answer
    except openai.APIStatusError as error:
        return error.status_code, error


def test_sequential_honest_requests_on_a_budget_worth_three_and_a_half_serve_three(ready: RunningStack) -> None:
    budget = 3.5 * billed(HONEST)
    secret, key_id = create_key(ready, "--budget", repr(budget))
    ready.behaviour(MODEL, {"usage": HONEST})
    client = ready.client(api_key=secret)
    statuses = [ask_prose(client)[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 402, 402]
    refusal = ask_prose(client)[1]
    assert isinstance(refusal, openai.APIStatusError) and "16 answer tokens" in str(refusal.message)
    spend = billed(HONEST, 3)
    ratio("sequential honest requests (served 3 of a budget worth 3.5)", spend, budget)
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(spend, abs=1e-9)


def test_concurrent_honest_requests_on_a_budget_worth_three_and_a_half_serve_one_to_four(
        ready: RunningStack) -> None:
    budget = 3.5 * billed(HONEST)
    secret, key_id = create_key(ready, "--budget", repr(budget))
    ready.behaviour(MODEL, {"usage": HONEST, "latency_ms": 1500})  # all in flight at once
    client = ready.client(api_key=secret)
    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = [status for status, _ in pool.map(lambda _: ask_prose(client), range(25))]
    served = statuses.count(200)
    spend = billed(HONEST, served)
    ratio(f"25 concurrent honest requests (served {served})", spend, budget)
    assert set(statuses) <= {200, 402} and 1 <= served <= 4
    assert month_counters(ready, key_id)["cost_usd"] == pytest.approx(spend, abs=1e-9) and spend <= budget


def test_a_cap_the_budget_cannot_pay_is_lowered_and_the_client_is_told(ready: RunningStack) -> None:
    # Room for the prompt and about 40 answer tokens, asked for 2,000.
    budget = billed({"prompt_tokens": 1_400, "completion_tokens": 40})
    secret, _ = create_key(ready, "--budget", repr(budget))
    ready.behaviour(MODEL, {"usage": HONEST})
    status, answer = ask_prose(ready.client(api_key=secret), max_tokens=2_000)
    assert status == 200
    lowered = int(answer.http_response.headers["x-mix-max-tokens"])
    assert 16 <= lowered < 2_000
    note = answer.parse().model_extra["mix"]["budget"][0]
    assert (note["max_tokens_asked"], note["max_tokens_sent"]) == (2_000, lowered)
    sent = received(ready)[0]["body"]
    assert [sent[c] for c in ("max_tokens", "max_completion_tokens") if c in sent] == [lowered]
