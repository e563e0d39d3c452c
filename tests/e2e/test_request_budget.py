"""A fallback chain that outlives the request budget (issue 18), and request ids on every answer, end to end."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.e2e.conftest import RunningStack, running_stack

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Hello?"}]
FALLBACKS = ["anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5", "anthropic/claude-opus-4-5"]


@pytest.fixture(scope="module")
def tight_stack() -> Iterator[RunningStack]:
    """A 3.5 s request budget, 2 s per attempt, and a provider cool-down long enough to notice (30 s)."""
    with running_stack(MIXCORE_REQUEST_BUDGET_SECONDS="3.5", MIXCORE_ATTEMPT_TIMEOUT_SECONDS="2",
                       MIXCORE_COOLDOWN_SECONDS="30") as running:
        yield running


def test_a_streamed_chain_keeps_time_for_each_fallback_within_its_budget(tight_stack: RunningStack) -> None:
    # Given gpt-4o and the first fallback answer only after 10 s (a slow first token)
    tight_stack.reset()
    for model in ("openai/gpt-4o", "anthropic/claude-sonnet-4-5"):
        tight_stack.behaviour(model, {"latency_ms": 10_000})
    # When a client streams gpt-4o with three Anthropic fallbacks
    chunks = list(tight_stack.client().chat.completions.create(model="openai/gpt-4o", messages=USER, stream=True,
                                                               extra_body={"models": FALLBACKS}))
    # Then a candidate with a fallback behind it used at most half the time left (gpt-4o 1.75 s of 3.5,
    # sonnet 0.9 s), so the second fallback still had time to answer, within the budget
    assert {c.model for c in chunks} == {"anthropic/claude-haiku-4-5"}
    request_id = chunks[0].id
    record = tight_stack.records_for({request_id})[request_id]
    assert record["status"] == 200
    assert [(c["model"], c["outcome"], c["error"]) for c in record["calls"]] == [
        ("openai/gpt-4o", "error", "timeout"), ("anthropic/claude-sonnet-4-5", "error", "timeout"),
        ("anthropic/claude-haiku-4-5", "ok", None)]
    # And nobody after the answering candidate was called
    called = {f"{c['provider']}/{c['model']}" for c in tight_stack.provider_calls()["calls"]}
    assert called == {"openai/gpt-4o", "anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5"}
    # And Anthropic is not cooling down: the next request to it is served
    tight_stack.reset()
    answer = tight_stack.client().chat.completions.create(model="anthropic/claude-haiku-4-5", messages=USER)
    assert answer.model == "anthropic/claude-haiku-4-5"


@pytest.mark.parametrize(("model", "behaviour", "status"), [
    ("openai/gpt-does-not-exist", None, 404),
    ("openai/gpt-4o-mini", {"status": 500}, 502),
])
def test_error_answers_carry_the_request_id_of_their_cost_record(tight_stack: RunningStack, model: str,
                                                                 behaviour: dict[str, object] | None,
                                                                 status: int) -> None:
    tight_stack.reset()
    if behaviour:
        tight_stack.behaviour(model, behaviour)
    with pytest.raises(openai.APIStatusError) as failed:
        tight_stack.client().chat.completions.create(model=model, messages=USER)
    assert failed.value.status_code == status
    request_id = failed.value.response.headers["x-request-id"]
    assert request_id.startswith("chatcmpl-")
    record = tight_stack.records_for({request_id})[request_id]
    assert record["status"] == status


def test_a_malformed_body_carries_a_request_id(tight_stack: RunningStack) -> None:
    with pytest.raises(openai.BadRequestError) as malformed:
        tight_stack.client().chat.completions.create(model="openai/gpt-4o", messages=[])
    assert malformed.value.response.headers["x-request-id"].startswith("chatcmpl-")
