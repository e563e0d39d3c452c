"""ProviderClient against a real local HTTP provider: both protocols, retries, and every fault."""

from __future__ import annotations

import itertools
import time

import pytest

from mixcore.local.demo_providers import Behaviour, DemoProviderServer
from mixcore.providers.client import ProviderClient, build_http_client
from mixcore.providers.config import ProviderConfig
from mixcore.providers.errors import (
    UpstreamBadRequest,
    UpstreamConnectionError,
    UpstreamInvalidResponse,
    UpstreamModelNotFound,
    UpstreamServerError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mixcore.providers.types import StreamState
from mixcore.settings import Settings

pytestmark = pytest.mark.anyio
MESSAGES = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a prime."}]}


@pytest.fixture
def client(settings: Settings) -> ProviderClient:
    return ProviderClient(build_http_client(settings), settings)


def deadline(seconds: float = 5) -> float:
    return time.monotonic() + seconds


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_completion_names_the_model_and_reports_usage(client: ProviderClient,
                                                            providers: dict[str, ProviderConfig],
                                                            demo: DemoProviderServer, provider: str) -> None:
    model = "gpt-4o" if provider == "openai" else "claude-sonnet-4-5"
    completion = await client.complete(providers[provider], model, MESSAGES, deadline=deadline())
    assert f"{provider}/{model}" in completion.text
    assert completion.usage.completion_tokens > 0 and not completion.usage.estimated
    call = demo.calls_for(f"{provider}/{model}")[0]
    if provider == "anthropic":
        # The native Messages API: the system prompt moves out of the turns.
        assert call.body["system"] == "Be brief."
        assert [t["role"] for t in call.body["messages"]] == ["user"]
        assert call.body["max_tokens"] == 4096
    else:
        assert call.body["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_stream_yields_openai_chunks_and_usage(client: ProviderClient, providers: dict[str, ProviderConfig],
                                                     provider: str) -> None:
    model = "gpt-4o-mini" if provider == "openai" else "claude-haiku-4-5"
    state = StreamState()
    chunks = [c async for c in client.stream(providers[provider], model, MESSAGES, deadline=deadline(),
                                             state=state)]
    assert all(c["choices"] for c in chunks)
    assert f"{provider}/{model}" in state.text
    assert state.finish_reason == "stop"
    assert state.usage is not None and state.usage.completion_tokens > 0 and not state.usage.estimated


async def test_retries_503_honouring_retry_after_then_succeeds(client: ProviderClient,
                                                               providers: dict[str, ProviderConfig],
                                                               demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai/gpt-4o", Behaviour(status=503, retry_after=0.3, fail_times=2))
    completion = await client.complete(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline())
    assert completion.retries == 2
    calls = demo.calls_for("openai/gpt-4o")
    assert len(calls) == 3
    # Each retry waited for Retry-After (0.3 s) before calling again.
    assert all(later.at - earlier.at >= 0.3 for earlier, later in itertools.pairwise(calls))


async def test_gives_up_after_max_retries(client: ProviderClient, providers: dict[str, ProviderConfig],
                                          demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(status=500))
    with pytest.raises(UpstreamServerError):
        await client.complete(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline())
    assert len(demo.calls_for("openai/gpt-4o")) == 3  # 1 + upstream_max_retries (2)


async def test_bad_request_is_not_retried(client: ProviderClient, providers: dict[str, ProviderConfig],
                                          demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(status=400))
    with pytest.raises(UpstreamBadRequest) as caught:
        await client.complete(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline())
    assert caught.value.fallback is False
    assert len(demo.calls_for("openai/gpt-4o")) == 1


async def test_unknown_model_is_model_not_found(client: ProviderClient, providers: dict[str, ProviderConfig]) -> None:
    with pytest.raises(UpstreamModelNotFound):
        await client.complete(providers["openai"], "gpt-nonexistent", MESSAGES, deadline=deadline())


async def test_503_maps_to_unavailable(client: ProviderClient, providers: dict[str, ProviderConfig],
                                       demo: DemoProviderServer) -> None:
    demo.set_behaviour("anthropic", Behaviour(status=529))
    with pytest.raises(UpstreamUnavailable):
        await client.complete(providers["anthropic"], "claude-haiku-4-5", MESSAGES, deadline=deadline())


@pytest.mark.parametrize(("fault", "error"), [
    ("hang", UpstreamTimeout),
    ("slow_body", UpstreamTimeout),
    ("drop", UpstreamConnectionError),
    ("truncated_json", UpstreamInvalidResponse),
    ("wrong_type", UpstreamInvalidResponse),
    ("huge", UpstreamInvalidResponse),
    ("error_body", UpstreamServerError),
])
async def test_faults_become_typed_errors_within_the_deadline(client: ProviderClient,
                                                              providers: dict[str, ProviderConfig],
                                                              demo: DemoProviderServer, fault: str,
                                                              error: type[Exception]) -> None:
    demo.set_behaviour("openai", Behaviour(fault=fault, hang_seconds=30))
    # The 1 s deadline ends the call: a 30 s hang or a slow body never runs to its end (pytest-timeout is 120 s).
    with pytest.raises(error):
        await client.complete(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline(1.0))


@pytest.mark.parametrize(("fault", "error"), [
    ("invalid_sse", UpstreamInvalidResponse),
    ("drop_mid_stream", UpstreamConnectionError),
    ("wrong_type", UpstreamInvalidResponse),
])
async def test_stream_faults_become_typed_errors(client: ProviderClient, providers: dict[str, ProviderConfig],
                                                 demo: DemoProviderServer, fault: str,
                                                 error: type[Exception]) -> None:
    demo.set_behaviour("openai", Behaviour(fault=fault))
    with pytest.raises(error):
        async for _ in client.stream(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline(2),
                                     state=StreamState()):
            pass


async def test_missing_usage_is_estimated_and_marked(client: ProviderClient, providers: dict[str, ProviderConfig],
                                                     demo: DemoProviderServer) -> None:
    demo.set_behaviour("openai", Behaviour(fault="no_usage", reply="four score and seven"))
    completion = await client.complete(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline())
    assert completion.usage.estimated
    # at most a token per three letters of each word: four 2, score 2, and 1, seven 2
    assert completion.usage.completion_tokens == 7


async def test_connection_refused_is_a_connection_error(client: ProviderClient) -> None:
    closed = ProviderConfig(name="closed", protocol="openai", base_url="http://127.0.0.1:9/v1", api_key="x",
                            configured=True)
    with pytest.raises(UpstreamConnectionError):
        await client.complete(closed, "m", MESSAGES, deadline=deadline(2))


@pytest.mark.parametrize("behaviour", [
    Behaviour(status=500, message="overloaded " * 40, drip_ms=500),
    Behaviour(raw_body="<html>" + "proxy page " * 40 + "</html>", drip_ms=500),
], ids=["dripping error body", "dripping non-SSE body"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
async def test_every_upstream_read_is_under_the_deadline(client: ProviderClient, providers: dict[str, ProviderConfig],
                                                         demo: DemoProviderServer, behaviour: Behaviour,
                                                         stream: bool) -> None:
    # Bodies of ~450 bytes at 16 bytes per 0.5 s take ~14 s to read: read whole, they would end as a server
    # error or an invalid response; cut off at the call's 1 s deadline, they end as a timeout.
    demo.set_behaviour("openai", behaviour)
    with pytest.raises(UpstreamTimeout):
        if stream:
            async for _ in client.stream(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline(1.0),
                                         state=StreamState()):
                pass
        else:
            await client.complete(providers["openai"], "gpt-4o", MESSAGES, deadline=deadline(1.0))
