"""Shared set-up for the benchmarks: a demo provider server and an in-process gateway wired to it."""

from __future__ import annotations

import os

# Before anything imports Powertools: no X-Ray daemon, no EMF and no INFO lines while benchmarking
# (they would measure the terminal, not Mixcore).
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import statistics
from typing import Any

from mixcore.catalog import get_catalog
from mixcore.catalog.live import FixedCatalog
from mixcore.container import assemble_gateway
from mixcore.costs.sink import MemorySink
from mixcore.local.demo_providers import DemoProviderServer, provider_base_url
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.upstream import Upstream
from mixcore.providers.client import ProviderClient, build_http_client
from mixcore.providers.config import ProviderConfig, provider_definitions
from mixcore.settings import Settings
from mixcore.store.memory import MemoryStore

LOCAL_MODELS = {f"m{i}" for i in range(16)}


def known_models() -> dict[str, set[str]]:
    catalog = get_catalog()
    known = {name: {m.api_model for m in catalog.by_provider(name)} for name in provider_definitions()}
    known["local"] = LOCAL_MODELS
    return known


def demo_server(latency_ms: float = 0.0) -> DemoProviderServer:
    return DemoProviderServer(latency_ms=latency_ms, known_models=known_models()).start()


class ProviderProcess:
    """The demo providers in a process of their own, as a real provider is: its work never holds this
    process's GIL, so what a benchmark measures here is the client's side alone. `base_url`, `stop()`."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        import subprocess
        import sys
        import time

        import httpx

        from mixcore.local.stack import free_port

        self.port = free_port()
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import _common; "
                "from mixcore.local.demo_providers import DemoProviderServer; "
                "DemoProviderServer(int(sys.argv[2]), latency_ms=float(sys.argv[3]), "
                "known_models=_common.known_models()).serve_forever()")
        here = os.path.dirname(os.path.abspath(__file__))
        self.process = subprocess.Popen([sys.executable, "-c", code, here, str(self.port), str(latency_ms)])
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.base_url("openai") + "/models", timeout=1).raise_for_status()
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the provider process did not start") from None
                time.sleep(0.05)

    def base_url(self, provider: str, protocol: str = "openai") -> str:
        return provider_base_url(f"http://127.0.0.1:{self.port}", provider, protocol)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def gateway_for(demo: DemoProviderServer | ProviderProcess, store: MemoryStore | None = None,
                **settings: Any) -> Gateway:
    config = Settings(**settings)
    providers = {d.name: ProviderConfig(name=d.name, protocol=d.protocol, base_url=demo.base_url(d.name, d.protocol),
                                        api_key="bench", configured=True) for d in provider_definitions().values()}
    providers["local"] = ProviderConfig(name="local", protocol="openai", base_url=demo.base_url("local"),
                                        api_key="bench", configured=True)
    upstream = Upstream(settings=config, providers=providers, client=ProviderClient(build_http_client(config), config),
                        catalogs=FixedCatalog(get_catalog()), cooldowns=Cooldowns())
    memory = store or MemoryStore()
    return assemble_gateway(upstream, lambda: memory, MemorySink())


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": statistics.median(ordered), "p95": pick(0.95), "p99": pick(0.99)}


def quiet_powertools() -> None:
    """No X-Ray daemon and no EMF on stdout while benchmarking (they would measure the terminal)."""
    import os

    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def local_api(gateway: Gateway, store: MemoryStore) -> Any:
    """The real functions behind the local REST API, on the given gateway and store (not yet serving)."""
    from pathlib import Path

    from mixcore import container
    from mixcore.local.rest_api import LocalRestApi
    from mixcore.local.template import Template

    container.set_store(store)
    container.set_gateway(gateway)
    container.set_cost_sink(gateway.cost_sink)
    api = LocalRestApi(Template.load(Path(__file__).resolve().parents[1] / "template.yaml"))
    api.load_all()
    return api


def serve(api: Any) -> Any:
    """The local REST API on a free loopback port (uvicorn in a thread); `.url`, `.stop()`."""
    from mixcore.local.stack import LocalServer

    return LocalServer(api, port=0).start()


def dev_key(store: MemoryStore) -> str:
    from mixcore.auth.keys import new_key

    key, record = new_key("bench")
    store.put_key(record)
    return key


def ranking_of(names: list[str], source: str = "lmsys", category: str = "coding") -> dict[str, Any]:
    entries = [{"rank": i + 1, "name": n, "score": 1500.0 - i} for i, n in enumerate(names)]
    return {"source": source, "category": category, "entries": entries, "fetched_at": "2026-11-22T00:00:00+00:00",
            "data_date": "2026-11-22", "content_hash": "bench", "metric": "arena score"}
