"""A provider's key never reaches a client, a log or a cost record, on any path upstream text takes (issue 13).

Each provider gets a key of its real shape (Anthropic, Google, DeepSeek, Mistral, Together,
Fireworks, z.ai); the loopback provider then echoes it back in every way a provider or a proxy in
front of it can: a non-JSON error body, a non-SSE stream, an error event inside a stream, a 200
with an error body, and the answer itself.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from typing import Any

import pytest

from mixcore.catalog import get_catalog
from mixcore.errors import MixcoreError
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.gateway import Gateway
from mixcore.providers.config import ProviderConfig
from mixcore.providers.errors import client_safe
from mixcore.schemas import ChatCompletionRequest
from tests.conftest import request_context

pytestmark = pytest.mark.anyio
ALNUM = string.ascii_letters + string.digits


def token(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


# Key shapes as each provider issues them (lengths and alphabets from their consoles).
KEY_SHAPES = {
    "anthropic": lambda: "sk-ant-api03-" + token(86, ALNUM + "-_"),
    "google": lambda: "AIza" + token(35, ALNUM + "-_"),
    "deepseek": lambda: "sk-" + token(32, "0123456789abcdef"),
    "mistral": lambda: token(32),
    "together": lambda: token(64, "0123456789abcdef"),
    "fireworks": lambda: "fw_" + token(24),
    "zai": lambda: token(32, "0123456789abcdef") + "." + token(16),
}
ECHOES = {
    "non-JSON error body": lambda key: Behaviour(status=500, raw_body=f"Bad gateway; upstream said: key={key}"),
    "non-SSE stream": lambda key: Behaviour(raw_body=f"<html>proxy login for {key}</html>"),
    "error event in a stream": lambda key: Behaviour(fault="error_event", message=f"invalid x-api-key {key}"),
    "200 with an error body": lambda key: Behaviour(fault="error_body", message=f"Incorrect API key provided: {key}"),
    "the answer itself": lambda key: Behaviour(reply=f"The key you sent me is {key} indeed"),
}


async def answer_text(gateway: Gateway, model: str, stream: bool) -> str:
    request = ChatCompletionRequest.model_validate({"model": model, "stream": stream,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    ctx = request_context(gateway)
    try:
        if stream:
            result = await gateway.stream(request, ctx)
            text = "".join([line async for line in result.lines])
        else:
            text = json.dumps((await gateway.complete(request, ctx)).body)
    except MixcoreError as error:
        text = json.dumps(error.to_body())
    return text + json.dumps(ctx.attempts) + (ctx.record.model_dump_json() if ctx.record else "")


@pytest.mark.parametrize("echo", list(ECHOES))
@pytest.mark.parametrize("provider", list(KEY_SHAPES))
async def test_a_provider_key_is_redacted_on_every_path(gateway: Gateway, demo: DemoProviderServer, provider: str,
                                                        echo: str, caplog: pytest.LogCaptureFixture,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    key = KEY_SHAPES[provider]()
    config = gateway.upstream.providers[provider]
    gateway.upstream.providers[provider] = ProviderConfig(name=provider, protocol=config.protocol,
                                                          base_url=config.base_url, api_key=key, configured=True)
    model = get_catalog().by_provider(provider)[0]
    demo.set_behaviour(provider, ECHOES[echo](key))
    stream = echo in ("non-SSE stream", "error event in a stream")
    seen: list[str] = [await answer_text(gateway, model.id, stream)]
    if not stream:
        seen.append(await answer_text(gateway, model.id, True))
    assert [c for c in demo.calls_for() if c.provider == provider], "the provider was called"
    captured = capsys.readouterr()
    haystack = "\n".join([*seen, captured.out, captured.err, caplog.text])
    assert key not in haystack
    for part in key.split("."):
        assert part not in haystack
    assert "[redacted]" in haystack


def test_account_identifiers_are_kept_from_clients_and_the_limits_are_kept_for_them() -> None:
    message = ("Rate limit reached for gpt-4o in organization org-Abc123XyZ on tokens per min (TPM): Limit 30000, "
               "Used 29500, Requested 900. Contact billing@example.com or see project proj_9f8e7d6c.")
    safe = client_safe(message)
    assert "org-Abc123XyZ" not in safe and "billing@example.com" not in safe and "proj_9f8e7d6c" not in safe
    assert "Limit 30000, Used 29500, Requested 900" in safe
    assert safe.startswith("Rate limit reached for gpt-4o in organization [redacted]")


def test_attempts_carry_no_account_ids(gateway: Gateway, demo: DemoProviderServer) -> None:
    import anyio

    demo.set_behaviour("openai", Behaviour(status=429, message="Quota exceeded for org-Zz9Yy8Xx7 (user-abcdef12)"))
    text = anyio.run(answer_text, gateway, "openai/gpt-4o", False)
    body: dict[str, Any] = json.loads(text[:text.index("}[") + 1]) if "}[" in text else {}
    assert "org-Zz9Yy8Xx7" not in text and "user-abcdef12" not in text
    assert "Quota exceeded" in json.dumps(body)


async def test_a_key_written_with_json_escapes_in_a_200_answer_is_redacted(gateway: Gateway,
                                                                           demo: DemoProviderServer) -> None:
    # A provider (or a proxy) may write the key with \u escapes: the bytes differ, the decoded text is the key.
    key = KEY_SHAPES["deepseek"]()
    config = gateway.upstream.providers["deepseek"]
    gateway.upstream.providers["deepseek"] = ProviderConfig(name="deepseek", protocol=config.protocol,
                                                            base_url=config.base_url, api_key=key, configured=True)
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)
    body = ('{"id":"x","object":"chat.completion","created":1,"model":"deepseek-chat","choices":[{"index":0,'
            '"message":{"role":"assistant","content":"your key is ' + escaped + '"},"finish_reason":"stop"}],'
            '"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}')
    assert key not in body and json.loads(body)["choices"][0]["message"]["content"].endswith(key)
    demo.set_behaviour("deepseek", Behaviour(raw_body=body))
    text = await answer_text(gateway, "deepseek/deepseek-chat", False)
    assert key not in text and "your key is [redacted]" in text
