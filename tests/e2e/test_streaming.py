"""Streaming end to end through `mixcore serve`: tokens as they come, long mixes kept alive, disconnects.

What is asserted is what a client and a provider observe, never a duration: the first token reaches
the client while the provider is still sending, keep-alive bytes arrive while the proposers are
still working, and a client that hangs up makes the provider see its connection closed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import DEV_KEY, RunningStack, cli, running_stack

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Tell me something, slowly."}]
PIECES = [f"piece{i}" for i in range(20)]
DRIP = {"chunk_delay_ms": 100, "reply": " ".join(PIECES)}  # 20 pieces, 100 ms apart


def streamed_call(stack: RunningStack, model: str) -> dict[str, Any]:
    """The provider's view of the newest streamed call to `model` (events written, completed)."""
    calls = [c for c in stack.provider_calls()["calls"]
             if c["body"].get("stream") and f"{c['provider']}/{c['model']}" == model]
    assert calls, f"no streamed call to {model}"
    return calls[-1]


@pytest.mark.parametrize(("model", "answering"), [
    ("openai/gpt-4o", "openai/gpt-4o"),
    ("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
    ("synthesis/moa-lite", "openai/gpt-4o-mini"),  # moa-lite's aggregator streams the answer
])
def test_the_first_token_arrives_while_the_provider_is_still_sending(clean_stack: RunningStack, model: str,
                                                                     answering: str) -> None:
    # Given providers that send their answers in 20 pieces, 100 ms apart
    clean_stack.behaviour("*", DRIP)
    # When a client streams through the local stack with the openai SDK
    stream = clean_stack.client().chat.completions.create(model=model, messages=USER, stream=True)
    chunks = iter(stream)
    first = next(c for c in chunks if c.choices and c.choices[0].delta.content)
    provider_then = streamed_call(clean_stack, answering)
    rest = list(chunks)
    # Then, when the first token reached the client, the provider had not finished sending
    assert not provider_then["completed"]
    assert provider_then["events_sent"] < len(PIECES)
    # And the whole answer arrived, in order
    text = first.choices[0].delta.content + "".join(c.choices[0].delta.content or "" for c in rest if c.choices)
    assert text.split() == PIECES
    assert streamed_call(clean_stack, answering)["completed"]


def test_a_client_that_hangs_up_closes_the_upstream_and_its_cost_still_lands(clean_stack: RunningStack) -> None:
    # Given a provider that drips its answer
    clean_stack.behaviour("*", DRIP)
    body = {"model": "openai/gpt-4o", "messages": USER, "stream": True}
    with httpx.Client(base_url=clean_stack.base_url, headers={"authorization": f"Bearer {DEV_KEY}"},
                      timeout=30) as client, client.stream("POST", "/chat/completions", json=body) as response:
        request_id = response.headers["x-request-id"]
        # When the client reads the first token and hangs up
        for line in response.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break
    # Then the provider sees its connection closed before the end of the answer
    deadline = time.monotonic() + 10
    while not clean_stack.provider_calls()["abandoned_streams"]:
        assert time.monotonic() < deadline, "the provider never saw the connection close"
        time.sleep(0.1)
    abandoned = clean_stack.provider_calls()["abandoned_streams"]
    # (the provider's stream has a role event, 20 pieces, a finish event and [DONE])
    assert abandoned[0]["model"] == "openai/gpt-4o" and abandoned[0]["events_written"] < len(PIECES) + 3
    # And the cost of what was streamed is recorded under the request's id
    record = clean_stack.records_for({request_id})[request_id]
    assert record["status"] == 499
    assert [(c["model"], c["outcome"], c["error"]) for c in record["calls"]] == [
        ("openai/gpt-4o", "cancelled", "client_disconnected")]
    assert record["calls"][0]["prompt_tokens"] > 0 and record["cost_usd"] > 0


def test_an_answer_larger_than_lambdas_buffered_limit_streams_whole(clean_stack: RunningStack) -> None:
    # Given a provider whose answer is 40,000 tokens (about 8 MB of SSE, beyond the 6 MB buffered limit)
    words = [f"w{i % 1000:03d}" for i in range(40_000)]
    clean_stack.behaviour("openai/gpt-4o-mini", {"reply": " ".join(words)})
    stream = clean_stack.client(timeout=120).chat.completions.create(
        model="openai/gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.split() == words
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.fixture(scope="module")
def patient_stack() -> Iterator[RunningStack]:
    """A stack whose calls may take a minute, with a keep-alive every 2 s."""
    with running_stack(MIXCORE_ATTEMPT_TIMEOUT_SECONDS="60", MIXCORE_KEEPALIVE_SECONDS="2",
                       MIXCORE_STREAM_COMMIT_SECONDS="2", MIXCORE_JSON_COMMIT_SECONDS="2") as running:
        yield running


SLOW_SYNTHESIS = {"id": "synthesis/slow", "kind": "synthesis", "min_proposers": 2,
                  "layers": [{"proposers": [{"model": "openai/gpt-4o-mini"}, {"model": "anthropic/claude-haiku-4-5"}]},
                             {"proposers": [{"model": "openai/gpt-4o-mini"}, {"model": "anthropic/claude-haiku-4-5"}]}],
                  "aggregator": [{"model": "openai/gpt-4o"}]}


def test_a_forty_second_synthesis_is_kept_alive_and_answers(patient_stack: RunningStack, tmp_path: Any) -> None:
    # Given a 2-layer synthesis whose proposers each take 18 s, and an aggregator that streams for 2 s
    definition = tmp_path / "slow.json"
    definition.write_text(json.dumps(SLOW_SYNTHESIS))
    assert cli(patient_stack, "mixes", "put", "--file", str(definition)).returncode == 0
    for model in ("openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"):
        patient_stack.behaviour(model, {"latency_ms": 18_000})
    patient_stack.behaviour("openai/gpt-4o", {"chunk_delay_ms": 100, "reply": " ".join(PIECES)})
    body = {"model": "synthesis/slow", "messages": USER, "stream": True}
    lines: list[str] = []
    first_bytes_while_proposing: bool | None = None
    with httpx.Client(base_url=patient_stack.base_url, headers={"authorization": f"Bearer {DEV_KEY}"},
                      timeout=httpx.Timeout(120, read=30)) as client, \
            client.stream("POST", "/chat/completions", json=body) as response:
        status = response.status_code
        for line in response.iter_lines():
            if first_bytes_while_proposing is None and line:
                calls = patient_stack.provider_calls()["calls"]
                first_bytes_while_proposing = bool(calls) and not any(c["completed"] for c in calls)
            lines.append(line)
    # Then the client had bytes (keep-alive comments) while the first layer was still working
    assert status == 200
    assert first_bytes_while_proposing is True
    comments = [line for line in lines if line.startswith(":")]
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data: "))
    assert len([line for line in lines[:first_data] if line.startswith(":")]) >= 3 and comments
    # And the answer is the aggregator's, whole
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.split() == PIECES
    assert [line for line in lines if line][-1] == "data: [DONE]"


def test_a_long_json_answer_is_kept_alive_with_whitespace(patient_stack: RunningStack) -> None:
    # Given a provider that takes 7 s (past the 2 s after which this stack commits the status)
    patient_stack.behaviour("openai/gpt-4o-mini", {"latency_ms": 7_000})
    raw = patient_stack.client().chat.completions.with_raw_response.create(model="openai/gpt-4o-mini",
                                                                          messages=USER)
    # Then the body opens with keep-alive whitespace, and the SDK reads the completion behind it
    assert raw.http_response.content.startswith(b"\n")
    completion = raw.parse()
    assert completion.model == "openai/gpt-4o-mini" and "openai/gpt-4o-mini" in completion.choices[0].message.content


def test_a_late_failure_of_a_kept_alive_stream_is_an_error_event(patient_stack: RunningStack) -> None:
    # Given the provider refuses the request, but only after the stream was committed (7 s > 2 s)
    patient_stack.behaviour("openai/gpt-4o-mini", {"latency_ms": 7_000, "status": 400, "message": "no such tool"})
    stream = patient_stack.client().chat.completions.create(model="openai/gpt-4o-mini", messages=USER, stream=True)
    # Then the SDK raises the OpenAI-shaped error carried in the stream
    with pytest.raises(openai.APIError) as failed:
        list(stream)
    assert failed.value.code == "upstream_bad_request" and "no such tool" in failed.value.message
