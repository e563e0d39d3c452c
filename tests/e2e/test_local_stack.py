"""End to end: `mixcore serve` as a subprocess, the official openai SDK as the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import REPO
from tests.e2e.conftest import DEV_KEY, RunningStack, banner_exports, cli, running_stack

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "Say hello."}]


def test_banner_names_url_key_aws_and_demo_providers(stack: RunningStack) -> None:
    banner = "".join(stack.output)
    assert stack.base_url in banner
    assert DEV_KEY in banner
    assert stack.aws_endpoint in banner
    assert "DEMO PROVIDERS" in banner and "openai" in banner


def test_sdk_completion_from_a_direct_model(clean_stack: RunningStack) -> None:
    completion = clean_stack.client().chat.completions.create(model="openai/gpt-4o-mini", messages=USER)
    assert completion.model == "openai/gpt-4o-mini"
    assert "openai/gpt-4o-mini" in (completion.choices[0].message.content or "")
    assert completion.usage is not None and completion.usage.total_tokens > 0
    # gpt-4o-mini in models.dev (tests/fixtures/pricing): $0.15 in / $0.60 out per 1M tokens.
    expected = (completion.usage.prompt_tokens * 0.15 + completion.usage.completion_tokens * 0.6) / 1e6
    assert completion.usage.model_extra is not None
    assert completion.usage.model_extra["cost"] == pytest.approx(expected)


def test_sdk_stream_from_anthropic_protocol(clean_stack: RunningStack) -> None:
    stream = clean_stack.client().chat.completions.create(
        model="anthropic/claude-haiku-4-5", messages=USER, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "anthropic/claude-haiku-4-5" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_sdk_typed_errors(clean_stack: RunningStack) -> None:
    with pytest.raises(openai.AuthenticationError) as bad_key:
        clean_stack.client(api_key="mx-wrong").chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert bad_key.value.status_code == 401
    assert isinstance(bad_key.value.body, dict) and bad_key.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as unknown:
        clean_stack.client().chat.completions.create(model="openai/gpt-does-not-exist", messages=USER)
    assert isinstance(unknown.value.body, dict) and unknown.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as malformed:
        clean_stack.client().chat.completions.create(model="openai/gpt-4o", messages=[])
    assert isinstance(malformed.value.body, dict) and malformed.value.body["param"] == "messages"


def test_malformed_json_with_curl_like_client(clean_stack: RunningStack) -> None:
    response = httpx.post(f"{clean_stack.base_url}/chat/completions", content=b"{oops",
                          headers={"authorization": f"Bearer {DEV_KEY}"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_upstream_outage_is_502_with_attempts(clean_stack: RunningStack) -> None:
    clean_stack.behaviour("openai", {"status": 500})
    with pytest.raises(openai.InternalServerError) as failed:
        clean_stack.client().chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert failed.value.status_code == 502
    assert isinstance(failed.value.body, dict) and failed.value.body["attempts"][0]["status"] == 500


def test_models_endpoint_lists_models(clean_stack: RunningStack) -> None:
    ids = {m.id for m in clean_stack.client().models.list()}
    assert "openai/gpt-4o" in ids and "anthropic/claude-sonnet-4-5" in ids


def test_cli_keys_work_against_the_embedded_aws(clean_stack: RunningStack) -> None:
    env = {**os.environ, **banner_exports(clean_stack)}
    created = subprocess.run([sys.executable, "-m", "mixcore.cli", "keys", "create", "--name", "e2e"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=60, check=True)
    key = created.stdout.strip().splitlines()[-1]
    key_id = created.stdout.split("Created key ")[1].split(" ")[0]
    completion = clean_stack.client(api_key=key).chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert completion.model == "openai/gpt-4o"
    listed = subprocess.run([sys.executable, "-m", "mixcore.cli", "keys", "list"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert key_id in listed.stdout and key not in listed.stdout
    subprocess.run([sys.executable, "-m", "mixcore.cli", "keys", "revoke", key_id], cwd=REPO, env=env,
                   capture_output=True, text=True, timeout=60, check=True)
    # Locally there is no authorizer cache: revocation is immediate.
    with pytest.raises(openai.AuthenticationError) as revoked:
        clean_stack.client(api_key=key).chat.completions.create(model="openai/gpt-4o", messages=USER)
    assert "revoked" in json.dumps(revoked.value.body)


def test_refresh_from_fixtures_then_the_api_shows_each_category(clean_stack: RunningStack) -> None:
    from tests.conftest import FIXTURES

    env = {**os.environ, **banner_exports(clean_stack)}
    result = subprocess.run([sys.executable, "-m", "mixcore.cli", "refresh", "--from", str(FIXTURES / "leaderboards")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "lmsys/coding: 278 entries; top 3: claude-opus-4-5-20251101-thinking-32k" in result.stdout
    assert "seal/adversarial-robustness: 8 entries" in result.stdout
    headers = {"authorization": f"Bearer {DEV_KEY}"}
    listing = httpx.get(f"{clean_stack.base_url}/leaderboards", headers=headers, timeout=30).json()["data"]
    categories = {(r["source"], r["category"]) for r in listing}
    assert {("lmsys", "overall"), ("seal", "math"), ("bigcodebench", "hard-instruct")} <= categories
    seal_math = httpx.get(f"{clean_stack.base_url}/leaderboards/seal/math", headers=headers, timeout=30).json()
    assert seal_math["entries"][0]["name"] == "Claude 3.5 Sonnet" and seal_math["entries"][0]["score"] == 96.6
    again = subprocess.run([sys.executable, "-m", "mixcore.cli", "refresh", "--from", str(FIXTURES / "leaderboards")],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    summary = next(line for line in again.stdout.splitlines() if " unchanged, " in line)
    assert again.returncode == 0 and summary.startswith("0 stored"), again.stdout
    # Without --prices-from an offline refresh leaves the catalog as stored, and says so.
    assert "(unchanged)" in next(line for line in again.stdout.splitlines() if line.startswith("catalog: "))


def test_mixes_list_shows_what_the_stack_answers_with(clean_stack: RunningStack) -> None:
    """With only the banner's exports, the CLI resolves index mixes with the stack's providers (the demo ones
    here), as chat does: never "provider not configured" for a provider the stack can call."""
    listed = cli(clean_stack, "mixes", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("index/lmsys-coding "))
    answer = clean_stack.client().chat.completions.with_raw_response.create(
        model="index/lmsys-coding", messages=[{"role": "user", "content": "hi"}], max_tokens=20)
    assert row.split()[-1] == answer.headers["x-mix-model"]
    assert "not configured" not in listed.stdout
    # A route mix lists both of its sides; "hi" goes to the weak one.
    route = next(line for line in listed.stdout.splitlines() if line.startswith("route/auto "))
    weak = clean_stack.client().chat.completions.create(model="route/auto", max_tokens=20,
                                                        messages=[{"role": "user", "content": "hi"}])
    assert route.rstrip().endswith(f"weak {weak.model}") and "strong " in route


@pytest.fixture(scope="module")
def caching_stack() -> Iterator[RunningStack]:
    """A stack with the deployed cache lifetime (the shared one caches nothing, for the other tests)."""
    with running_stack(MIXCORE_CACHE_TTL_SECONDS="60") as running:
        yield running


def test_a_mix_put_with_the_cli_answers_at_once(caching_stack: RunningStack, tmp_path: Path) -> None:
    clean_stack = caching_stack
    warm = clean_stack.client().chat.completions.create(model="index/lmsys-math",  # the mix list is now cached
                                                         messages=[{"role": "user", "content": "hi"}])
    assert warm.model
    definition = tmp_path / "mix.json"
    definition.write_text(json.dumps({"id": "index/put-now", "kind": "index", "source": "lmsys",
                                      "category": "coding"}))
    put = cli(clean_stack, "mixes", "put", "--file", str(definition))
    assert put.returncode == 0, put.stderr
    answer = clean_stack.client().chat.completions.create(model="index/put-now",
                                                           messages=[{"role": "user", "content": "hi"}])
    assert answer.model.startswith("anthropic/claude-opus-4-5-20251101")
