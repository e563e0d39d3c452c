"""What API Gateway does in front of the functions, as the local stack reproduces it from template.yaml:
the authorizer cache and its flush on `mixcore keys revoke`, request ids on its own answers, integration timeouts."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import REPO
from tests.e2e.conftest import RunningStack, cli, create_key, running_stack

pytestmark = pytest.mark.e2e

TEMPLATE_TEXT = (REPO / "template.yaml").read_text()


def ask(stack: RunningStack, key: str) -> int:
    try:
        stack.client(api_key=key).chat.completions.create(model="openai/gpt-4o-mini",
                                                          messages=[{"role": "user", "content": "hi"}])
    except openai.APIStatusError as error:
        return error.status_code
    return 200


def test_a_revoked_key_works_from_the_cache_until_keys_revoke_flushes_it(stack: RunningStack) -> None:
    # Given a key whose first request put the authorizer's Allow in the cache (the template's TTL: 300 s)
    key_id, key = create_key(stack, "revocation")
    assert ask(stack, key) == 200
    # When it is revoked without a flush, it still works within the cache's TTL, as on AWS
    unflushed = cli(stack, "keys", "revoke", key_id, "--no-flush")
    assert unflushed.returncode == 0 and "not flushed" in unflushed.stdout
    assert ask(stack, key) == 200
    # And when `mixcore keys revoke` runs (it flushes the stage's authorizer cache), the next request is refused
    flushed = cli(stack, "keys", "revoke", key_id)
    assert flushed.returncode == 0, flushed.stderr
    assert "Flushed the authorizer cache" in flushed.stdout
    assert ask(stack, key) == 401


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/v1/chat/completions", {}, 401),                                   # UNAUTHORIZED
    ("/v1/chat/completions", {"authorization": "Bearer mx-nobody"}, 401),  # ACCESS_DENIED
    ("/v1/no-such-route", {}, 404),                                     # MISSING_AUTHENTICATION_TOKEN
])
def test_every_answer_of_the_gateway_itself_carries_a_request_id(stack: RunningStack, path: str,
                                                                 headers: dict[str, str], status: int) -> None:
    answer = httpx.post(stack.base_url.removesuffix("/v1") + path, headers=headers, json={})
    assert answer.status_code == status and answer.json()["error"]["message"]
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.headers["x-request-id"])


def template_with_chat_timeout(tmp_path: Path, timeout_ms: int | None) -> Path:
    """template.yaml with the chat integration's timeoutInMillis changed (None: removed, API Gateway's 29 s)."""
    text = TEMPLATE_TEXT.replace("timeoutInMillis: 900000",
                                 f"timeoutInMillis: {timeout_ms}" if timeout_ms is not None else "")
    assert text != TEMPLATE_TEXT
    path = REPO / f".template-timeout-{tmp_path.name}.yaml"  # beside the functions/ and src/ its CodeUris name
    path.write_text(text)
    return path


def test_the_local_stack_cuts_an_integration_at_the_timeout_the_template_declares(tmp_path: Path) -> None:
    # Given a template whose chat integration allows 1 s, and a provider that takes 3 s to answer
    template = template_with_chat_timeout(tmp_path, 1000)
    try:
        with running_stack(extra_args=("--template", str(template))) as stack:
            stack.behaviour("openai", {"latency_ms": 3000})
            # When a whole (non-streamed) answer is asked for
            answer = httpx.post(f"{stack.base_url}/chat/completions", timeout=30,
                                headers={"authorization": "Bearer mx-e2e-dev-key"},
                                json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    finally:
        template.unlink()
    # Then the gateway answers 504 itself at the integration timeout, as API Gateway does
    assert answer.status_code == 504, answer.text
    assert answer.json()["error"]["code"] == "timeout" and answer.headers["x-request-id"]
