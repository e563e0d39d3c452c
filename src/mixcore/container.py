"""The objects a warm container reuses across invocations, built lazily on first use.

This is the one place that builds adapters and wires them into the domain. Tests and the
benchmarks replace them with the setters (`set_store`, `set_cost_sink`, `set_gateway`), or wire
their own with `assemble_gateway`; nothing here runs at import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mixcore.catalog.live import LiveCatalog
from mixcore.costs.sink import CostSink, MemorySink
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.registry import MixRegistry
from mixcore.mixes.upstream import Upstream
from mixcore.providers.client import ProviderClient, build_http_client
from mixcore.providers.config import ProviderConfig, load_providers
from mixcore.settings import Settings, get_settings
from mixcore.store.base import Store

_lock = threading.RLock()
_gateway: Gateway | None = None
_store: Store | None = None
_sink: CostSink | None = None


def get_store() -> Store:
    """The DynamoDB store for this container."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                from mixcore.store.dynamodb import DynamoStore

                _store = DynamoStore(get_settings().table_name)
    return _store


def set_store(store: Store | None) -> None:
    global _store
    _store = store


def get_cost_sink() -> CostSink:
    global _sink
    if _sink is None:
        with _lock:
            if _sink is None:
                settings = get_settings()
                if settings.cost_stream_name:
                    from mixcore.costs.firehose import FirehoseSink

                    _sink = FirehoseSink(settings.cost_stream_name, settings.cost_bucket_name)
                else:
                    _sink = MemorySink()
    return _sink


def set_cost_sink(sink: CostSink | None) -> None:
    global _sink
    _sink = sink


def build_upstream(settings: Settings, providers: dict[str, ProviderConfig]) -> Upstream:
    return Upstream(settings=settings, providers=providers,
                    client=ProviderClient(build_http_client(settings), settings),
                    catalogs=LiveCatalog(get_store, settings.cache_ttl_seconds),
                    cooldowns=Cooldowns(threshold=settings.cooldown_failures, seconds=settings.cooldown_seconds))


def assemble_gateway(upstream: Upstream, store: Callable[[], Store], sink: CostSink) -> Gateway:
    """A gateway with its mix registry, on the given providers, store and cost sink."""
    return Gateway(upstream=upstream, registry=MixRegistry(store, upstream), cost_sink=sink)


def get_gateway() -> Gateway:
    global _gateway
    if _gateway is None:
        with _lock:
            if _gateway is None:
                _gateway = assemble_gateway(build_upstream(get_settings(), load_providers()), get_store,
                                            get_cost_sink())
    return _gateway


def set_gateway(gateway: Gateway | None) -> None:
    global _gateway
    _gateway = gateway


def reset() -> None:
    """Forget the store, sink and gateway: the next use builds them from the environment again."""
    set_gateway(None)
    set_cost_sink(None)
    set_store(None)
