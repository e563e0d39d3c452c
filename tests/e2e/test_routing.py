"""Routing end to end (issue 29), with the official SDK against `mixcore serve` and the fixture leaderboards:
route/auto sends hard and easy prompts to different sides and says why, the share moves the split, the stream
carries the decision in its first chunk, the cost record keeps the score, and index/auto answers each prompt
with its category's leader."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import RunningStack, cli, create_key

pytestmark = pytest.mark.e2e
HARD = ("A warehouse ships 1,250 parcels on Monday and 8% more each following weekday. Each parcel weighs between "
        "0.4 and 2.6 kg, uniformly. Work out, step by step, the expected total weight shipped in the week, then "
        "write a Python function that simulates 10,000 such weeks with numpy and returns the 95th percentile of the "
        "weekly weight, and explain why the simulation and the closed form agree. ") * 2


def ask(stack: RunningStack, model: str, content: str, **extra: Any) -> Any:
    return stack.client().chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                                  max_tokens=50, **extra)


@pytest.fixture
def ready(indexed: RunningStack) -> RunningStack:
    indexed.reset()
    return indexed


def test_route_auto_sends_a_hard_prompt_and_hi_to_different_sides(ready: RunningStack) -> None:
    hard, easy = ask(ready, "route/auto", HARD), ask(ready, "route/auto", "hi")
    hard_route, easy_route = hard.model_extra["mix"]["route"], easy.model_extra["mix"]["route"]
    assert (hard_route["side"], easy_route["side"]) == ("strong", "weak")
    assert hard.model == hard_route["strong"] == hard_route["chosen"]
    assert easy.model == easy_route["weak"] == easy_route["chosen"] != hard.model
    assert hard_route["score"] == len(HARD) >= hard_route["threshold"] > easy_route["score"] == 2
    costs = hard_route["estimated_cost_usd"]
    assert costs["strong"] > costs["weak"]  # the weak side is the cheaper one
    overall = ask(ready, "index/lmsys-overall", "hi")
    assert hard.model == overall.model  # the strong side is the overall leader


@pytest.mark.parametrize(("share", "side"), [(0.0, "weak"), (1.0, "strong")])
def test_a_share_of_zero_or_one_picks_one_side(ready: RunningStack, share: float, side: str) -> None:
    for content in ("hi", HARD):
        answer = ask(ready, "route/auto", content, extra_body={"route": {"strong_share": share}})
        assert answer.model_extra["mix"]["route"]["side"] == side


def test_a_routed_stream_explains_in_its_first_chunk_makes_one_call_and_records_the_score(
        ready: RunningStack) -> None:
    chunks = list(ready.client().chat.completions.create(
        model="route/auto", messages=[{"role": "user", "content": HARD}], max_tokens=50, stream=True))
    route = chunks[0].model_extra["mix"]["route"]
    assert route["side"] == "strong" and route["score"] == len(HARD)
    # Routing is decided before any call: the answer is one upstream call, as a direct model's is.
    assert len(ready.provider_calls()["calls"]) == 1
    record = ready.records_for({chunks[0].id})[chunks[0].id]
    assert record["route"]["score"] == len(HARD) and record["route"]["side"] == "strong"


@pytest.mark.parametrize(("content", "category"), [
    ("Write a Python function that merges two sorted lists without using sort().", "coding"),
    ("请用简单的语言解释一下为什么天空是蓝色的，并举一个生活中的例子。", "chinese"),
])
def test_index_auto_answers_with_the_categorys_leader(ready: RunningStack, content: str, category: str) -> None:
    auto = ask(ready, "index/auto", content)
    leader = ask(ready, f"index/lmsys-{category}", content)
    assert auto.model_extra["mix"]["auto"]["category"] == category
    assert auto.model == leader.model


def test_calibrate_makes_a_share_mean_that_share_of_the_keys_own_traffic(ready: RunningStack) -> None:
    key_id, secret = create_key(ready, "routing")
    client = ready.client(api_key=secret)
    # This key's prompts are all long (far above the shipped median): uncalibrated, a 30% share sends them all
    # to the strong side.
    prompts = [f"Question {i}: " + "explain the trade-offs of this design in detail. " * (20 + i) for i in range(20)]

    answered: set[str] = set()

    def sides(share: float) -> list[str]:
        found = []
        for prompt in prompts:
            answer = client.chat.completions.create(model="route/auto", max_tokens=20, extra_body={
                "route": {"strong_share": share}}, messages=[{"role": "user", "content": prompt}])
            found.append(answer.model_extra["mix"]["route"]["side"])
            answered.add(answer.id)
        return found

    before = sides(0.3)
    assert before.count("strong") == 20
    ready.records_for(answered)  # the scores calibration reads are in the cost records
    calibrated = cli(ready, "route", "calibrate", "--key", key_id, "--router", "length")
    assert calibrated.returncode == 0, calibrated.stderr
    after = sides(0.3)
    # 20 prompts of distinct lengths: the top 30% by length is 6 of them
    assert after.count("strong") == 6
    assert after[-6:] == ["strong"] * 6  # the longest ones


VERIFIED = "17 * 23 = 391.\nVerification Decision: The AI generated answer is Correct."


def test_a_cascade_escalates_an_unverified_answer_and_keeps_a_verified_one(ready: RunningStack) -> None:
    question = "What is 17 * 23? Show the multiplication."
    # The demo model's answers carry no verdict, so its verification finds nothing Correct: escalated.
    escalated = ask(ready, "route/cascade/math", question)
    route = escalated.model_extra["mix"]["route"]
    leader = ask(ready, "index/lmsys-math", question).model
    assert route["side"] == "strong" and escalated.model == route["chosen"] == leader and route["score"] == 0.0
    weak = route["weak"]
    ready.behaviour(weak, {"reply": VERIFIED})
    kept = ready.client().chat.completions.create(model="route/cascade/math", max_tokens=50, stream=True,
                                                  messages=[{"role": "user", "content": question}])
    chunks = list(kept)
    first = chunks[0].model_extra["mix"]["route"]
    assert first["side"] == "weak" and chunks[0].model == weak and first["score"] == 1.0
    records = ready.records_for({escalated.id, chunks[0].id})
    # Every call is in the record and charged: the weak answer, its verification (4 verdicts), the strong answer.
    roles = [(c["layer"], c["role"]) for c in records[escalated.id]["calls"]]
    assert roles == [(1, "answer"), (2, "verify"), (3, "answer")]
    assert all(c["cost_usd"] > 0 for c in records[escalated.id]["calls"])
    assert [(c["layer"], c["role"]) for c in records[chunks[0].id]["calls"]] == [(1, "answer"), (2, "verify")]
    assert records[chunks[0].id]["route"]["score"] == 1.0
