"""Every composite preset kind end to end with the official SDK, streaming and not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
PRESETS = ["synthesis/moa", "synthesis/moa-lite", "synthesis/coding", "synthesis/self-moa", "cascade/frugal",
           "vote/self-consistency"]
USER = [{"role": "user", "content": "What is 6 x 7? Answer with a number."}]


@pytest.fixture
def ready(indexed: RunningStack) -> RunningStack:
    indexed.reset()
    return indexed


def extra(obj: Any) -> dict[str, Any]:
    return dict(obj.model_extra or {})


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_answers_and_its_usage_is_the_sum_of_its_calls(ready: RunningStack, preset: str) -> None:
    completion = ready.client().chat.completions.create(model=preset, messages=USER)
    mix = extra(completion)["mix"]
    assert mix["id"] == preset and mix["kind"] == preset.split("/")[0]
    calls = mix["calls"]
    assert len(calls) >= 2
    assert completion.model in {c["model"] for c in calls if c["outcome"] == "ok"}
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == sum(c["prompt_tokens"] for c in calls)
    assert completion.usage.completion_tokens == sum(c["completion_tokens"] for c in calls)
    costs = [c["cost_usd"] for c in calls]
    if all(cost is not None for cost in costs):
        assert extra(completion.usage)["cost"] == pytest.approx(sum(costs))


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_streams(ready: RunningStack, preset: str) -> None:
    stream = ready.client().chat.completions.create(model=preset, messages=USER, stream=True,
                                                     stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Mixcore demo provider" in text
    final = chunks[-1]
    assert final.usage is not None and final.usage.completion_tokens > 0
    assert extra(final)["mix"]["id"] == preset


def test_synthesis_survives_a_failing_proposer_provider(ready: RunningStack) -> None:
    ready.behaviour("deepseek", {"status": 500})
    completion = ready.client().chat.completions.create(model="synthesis/moa-lite", messages=USER,
                                                        extra_body={"include_proposals": True})
    layer = extra(completion)["mix"]["layers"][0]
    assert "deepseek/deepseek-chat" not in layer["answered"] and len(layer["answered"]) == 3
    assert {p["model"] for p in extra(completion)["mix"]["proposals"]} == set(layer["answered"])


@pytest.mark.parametrize("preset", PRESETS)
def test_every_upstream_call_is_an_attempt_in_the_header_and_the_mix_object(ready: RunningStack,
                                                                            preset: str) -> None:
    raw = ready.client().chat.completions.with_raw_response.create(model=preset, messages=USER)
    mix = extra(raw.parse())["mix"]
    called = [a for a in mix["attempts"] if a["outcome"] != "skipped"]
    assert len(called) == len(mix["calls"]) >= 2
    assert int(raw.headers["x-mix-attempts"]) == len(mix["attempts"])
    assert {a["role"] for a in mix["attempts"] if "role" in a} <= {"proposer", "aggregator", "answer", "judge",
                                                                   "voter"}
