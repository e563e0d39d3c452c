"""Index mixes end to end: the official SDK, the local stack, stored fixture rankings, failing providers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import FIXTURES
from tests.e2e.conftest import DEV_KEY, RunningStack, cli

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Write a haiku about sorting."}]
CODING = json.loads((FIXTURES / "leaderboards" / "lmsys" /
                     "arena-catalog_leaderboard-text-style-control_2025-12-17.json").read_text())["coding"]


def mix_of(completion: Any) -> dict[str, Any]:
    extra = completion.model_extra or {}
    mix: dict[str, Any] = extra["mix"]
    return mix


@pytest.fixture
def ready(indexed: RunningStack) -> RunningStack:
    indexed.reset()
    return indexed


def test_index_mix_answers_with_the_leader(ready: RunningStack) -> None:
    leader = max(CODING, key=lambda m: CODING[m]["rating"])
    assert leader == "claude-opus-4-5-20251101-thinking-32k"
    completion = ready.client().chat.completions.create(model="index/lmsys-coding", messages=USER)
    # The leader's API id at Anthropic (models.dev lists the dated claude-opus-4-5-20251101), run as it was
    # ranked: with a 32k-token thinking budget.
    assert completion.model == "anthropic/claude-opus-4-5-20251101:thinking-32k"
    sent = [c for c in ready.provider_calls()["calls"] if c["model"] == "claude-opus-4-5-20251101"]
    assert sent and sent[-1]["body"]["thinking"] == {"type": "enabled", "budget_tokens": 32 * 1024}
    mix = mix_of(completion)
    assert mix["id"] == "index/lmsys-coding"
    assert mix["ranking"]["source"] == "lmsys" and mix["ranking"]["category"] == "coding"
    assert mix["attempts"][0]["name"] == leader


def test_provider_outage_falls_back_and_the_mix_object_tells(ready: RunningStack) -> None:
    ready.behaviour("anthropic", {"status": 503})
    raw = ready.client().chat.completions.with_raw_response.create(model="index/lmsys-coding", messages=USER)
    completion = raw.parse()
    assert not completion.model.startswith("anthropic/")
    attempts = mix_of(completion)["attempts"]
    assert attempts[0]["outcome"] == "error" and attempts[0]["status"] == 503
    assert attempts[-1]["outcome"] == "ok" and attempts[-1]["model"] == completion.model
    assert raw.headers["x-mix-model"] == completion.model
    assert int(raw.headers["x-mix-attempts"]) == len(attempts)


def test_hanging_provider_costs_one_attempt_timeout(ready: RunningStack) -> None:
    ready.behaviour("anthropic", {"fault": "hang", "hang_seconds": 20})
    # Each hung candidate times out after 2 s (MIXCORE_ATTEMPT_TIMEOUT_SECONDS, and
    # MIXCORE_THINKING_ATTEMPT_TIMEOUT_SECONDS for the thinking leader), long before its 20 s hang ends.
    completion = ready.client().chat.completions.create(model="index/lmsys-coding", messages=USER)
    assert not completion.model.startswith("anthropic/")
    errors = [a for a in mix_of(completion)["attempts"] if a["outcome"] == "error"]
    assert errors and all(a["error"] == "timeout" and a["latency_ms"] < 20_000 for a in errors)


def test_every_candidate_failing_is_an_openai_shaped_error(ready: RunningStack) -> None:
    ready.behaviour("*", {"status": 500})
    with pytest.raises(openai.APIStatusError) as failed:
        ready.client().chat.completions.create(model="index/lmsys-coding", messages=USER)
    assert failed.value.status_code == 502
    body = failed.value.body
    assert isinstance(body, dict) and body["code"] == "all_candidates_failed"
    assert len(body["attempts"]) >= 2 and all(a["outcome"] in ("error", "skipped") for a in body["attempts"])


def test_stream_from_an_index_mix(ready: RunningStack) -> None:
    stream = ready.client().chat.completions.create(model="index/seal-math", messages=USER, stream=True)
    chunks = list(stream)
    # SEAL math 2024-08-07: Claude 3.5 Sonnet (claude-3-5-sonnet-20240620 in its tooltip) leads, but it has left
    # LiteLLM's 2026-04 price table (retired); #2 is Llama 3.1 405B Instruct, which Fireworks lists there.
    assert {c.model for c in chunks} == {"fireworks/accounts/fireworks/models/llama-v3p1-405b-instruct"}
    assert "llama-v3p1-405b-instruct" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_models_and_mix_endpoints(ready: RunningStack) -> None:
    ids = [m.id for m in ready.client().models.list()]
    assert "index/lmsys-overall" in ids and "index/bigcodebench-hard-instruct" in ids
    view = httpx.get(f"{ready.base_url}/mixes/index/lmsys-vision", headers={"authorization": f"Bearer {DEV_KEY}"},
                     timeout=30).json()
    candidates, skipped = view["resolution"]["candidates"], view["resolution"]["skipped"]
    # Gemini 3 Pro leads the vision arena, but LiteLLM dates gemini-3-pro-preview's shutdown 2026-03-09.
    assert skipped[0]["name"] == "gemini-3-pro" and "deprecated on 2026-03-09" in skipped[0]["reason"]
    assert candidates[0]["name"] == "gpt-5.1-high" and candidates[0]["price"]["output"] == 10.0
    assert all({"rank", "score", "price", "available", "model"} <= set(c) for c in candidates)


def test_a_new_ranking_changes_the_answering_model(ready: RunningStack, tmp_path: Path) -> None:
    changed = dict(CODING)
    # A plausible new leader: five points above the current one (a forged 2000 would now be rejected).
    top = max(entry["rating"] for entry in CODING.values())
    changed["gpt-5.1-high"] = {**changed["gpt-5.1-high"], "rating": top + 5, "rating_q975": top + 10,
                               "rating_q025": top}
    folder = tmp_path / "lmsys"
    folder.mkdir()
    (folder / "arena-catalog_leaderboard-text-style-control_2025-12-17.json").write_text(
        json.dumps({"coding": changed}))
    result = cli(ready, "refresh", "--source", "lmsys", "--from", str(tmp_path))
    coding = next(line for line in result.stdout.splitlines() if line.startswith("lmsys/coding"))
    assert result.returncode == 0 and coding.endswith("stored (new data)"), result.stdout
    completion = ready.client().chat.completions.create(model="index/lmsys-coding", messages=USER)
    assert completion.model == "openai/gpt-5.1:reasoning-high"
