"""No secret used in a run (provider keys, client keys) appears in logs, responses or cost records."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from mixcore.auth.keys import new_key
from mixcore.container import get_store
from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.mixes.gateway import Gateway
from tests.integration.conftest import load_event

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


def test_secrets_never_leak(invoke: Invoke, wired: Gateway, demo: DemoProviderServer,
                            capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client_key, record = new_key("scan")
    get_store().put_key(record)
    provider_keys = [p.api_key for p in wired.upstream.providers.values()]
    assert all(k.startswith("sk-test-") for k in provider_keys)
    responses = []
    auth = load_event("authorizer.json")
    auth["headers"]["authorization"] = f"Bearer {client_key}"
    responses.append(invoke("AuthorizerFunction", auth))
    responses.append(invoke("ChatFunction", load_event("chat_completion.json")))
    responses.append(invoke("ChatFunction", load_event("chat_completion_stream.json")))
    demo.set_behaviour("openai", Behaviour(status=401, message="Incorrect API key provided: sk-test-openai-secret"))
    responses.append(invoke("ChatFunction", load_event("chat_completion.json")))  # the provider echoes our key
    demo.set_behaviour("openai", Behaviour(status=500))
    responses.append(invoke("ChatFunction", load_event("chat_completion.json")))
    captured = capsys.readouterr()
    haystack = "\n".join([captured.out, captured.err, caplog.text, json.dumps(responses),
                          *(r.model_dump_json() for r in wired.cost_sink.delivered)])  # type: ignore[attr-defined]
    assert len(wired.cost_sink.delivered) == 4  # type: ignore[attr-defined]
    for secret in [client_key, *provider_keys]:
        assert secret not in haystack, f"{secret[:10]}... leaked"
