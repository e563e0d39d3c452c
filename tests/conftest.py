"""Shared fixtures: a real demo/fault provider server on loopback and gateways wired to it."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mixcore.catalog import get_catalog
from mixcore.catalog.live import FixedCatalog
from mixcore.container import assemble_gateway
from mixcore.costs.sink import MemorySink
from mixcore.local.demo_providers import DemoProviderServer, catalog_output_limits
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.registry import MixRegistry
from mixcore.mixes.upstream import RequestContext, Upstream
from mixcore.providers.client import ProviderClient, build_http_client
from mixcore.providers.config import ProviderConfig, provider_definitions
from mixcore.settings import Settings
from mixcore.store.base import Store
from mixcore.store.memory import MemoryStore

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"  # copies of the real data, with provenance in its READMEs


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def demo_server() -> Iterator[DemoProviderServer]:
    catalog = get_catalog()
    known = {name: {m.api_model for m in catalog.by_provider(name)} for name in provider_definitions()}
    known["local"] = {"m-fast", "m-slow", "m-a", "m-b", "m-c", "m-d", "m-judge"}
    limits = catalog_output_limits(catalog.models.values())
    server = DemoProviderServer(known_models=known, output_limits=limits).start()
    yield server
    server.stop()


@pytest.fixture
def demo(demo_server: DemoProviderServer) -> Iterator[DemoProviderServer]:
    demo_server.reset()
    yield demo_server
    demo_server.reset()


@pytest.fixture
def settings() -> Settings:
    return Settings(retry_backoff_seconds=0.01, upstream_timeout_seconds=5, upstream_connect_timeout_seconds=1,
                    request_budget_seconds=5, upstream_max_retries=2, cooldown_seconds=30, cooldown_failures=3)


def demo_providers(demo: DemoProviderServer) -> dict[str, ProviderConfig]:
    configs = {d.name: ProviderConfig(name=d.name, protocol=d.protocol, base_url=demo.base_url(d.name, d.protocol),
                                      api_key=f"sk-test-{d.name}-secret", configured=True, source="env")
               for d in provider_definitions().values()}
    configs["local"] = ProviderConfig(name="local", protocol="openai", base_url=demo.base_url("local"),
                                      api_key="sk-test-local-secret", configured=True, source="env")
    return configs


@pytest.fixture
def providers(demo: DemoProviderServer) -> dict[str, ProviderConfig]:
    return demo_providers(demo)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def gateway(settings: Settings, providers: dict[str, ProviderConfig], sink: MemorySink) -> Gateway:
    upstream = Upstream(settings=settings, providers=providers,
                        client=ProviderClient(build_http_client(settings), settings),
                        catalogs=FixedCatalog(get_catalog()),
                        cooldowns=Cooldowns(threshold=3, seconds=30))
    store = MemoryStore()
    return assemble_gateway(upstream, lambda: store, sink)


def use_store(gateway: Gateway, store: Store) -> MixRegistry:
    """Point the gateway's mix registry at `store` (rankings and mixes written by the test)."""
    gateway.registry = MixRegistry(lambda: store, gateway.upstream)
    return gateway.registry


def request_context(gateway: Gateway, key_id: str = "key_test") -> RequestContext:
    return gateway.new_context(key_id, "chatcmpl-test-" + uuid.uuid4().hex[:12])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A short report of the injected provider faults the suite tried and how each ended."""
    outcomes: dict[str, str] = {}
    for status in ("passed", "failed"):
        for report in terminalreporter.stats.get(status, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "") == "call" and "faults" in nodeid.split("::")[-1] and "[" in nodeid:
                outcomes[nodeid.split("::")[-1]] = status
    if outcomes:
        terminalreporter.write_sep("-", f"provider fault suite: {len(outcomes)} injected faults")
        for name, status in sorted(outcomes.items()):
            terminalreporter.write_line(f"  {status:<6} {name}")


def png_text(data: bytes) -> dict[str, str]:
    """The PNG's tEXt chunks (keyword → text)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    texts, at = {}, 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"tEXt":
            keyword, _, text = data[at + 8:at + 8 + length].partition(b"\0")
            texts[keyword.decode("latin-1")] = text.decode("latin-1")
        at += 12 + length
    return texts
