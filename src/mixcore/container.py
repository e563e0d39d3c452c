"""The objects a warm container reuses across invocations, built lazily on first use.

Tests and the benchmarks replace them with `set_gateway`/`set_store`; nothing here runs at import.
"""

from __future__ import annotations

import threading
from typing import Any

from mixcore.catalog import get_catalog
from mixcore.costs.sink import CostSink, MemorySink
from mixcore.mixes.cooldown import Cooldowns
from mixcore.mixes.gateway import Gateway
from mixcore.providers.client import ProviderClient, build_http_client
from mixcore.providers.config import load_providers
from mixcore.settings import get_settings

_lock = threading.RLock()
_gateway: Gateway | None = None
_store: Any = None
_sink: CostSink | None = None


def get_store() -> Any:
    """The DynamoDB store for this container (KeyStore, RankingStore, MixStore)."""
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                from mixcore.store.dynamodb import DynamoStore

                _store = DynamoStore(get_settings().table_name)
    return _store


def set_store(store: Any) -> None:
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


def build_gateway() -> Gateway:
    settings = get_settings()
    gateway = Gateway(settings=settings, providers=load_providers(),
                      client=ProviderClient(build_http_client(settings), settings), catalog=get_catalog(),
                      cooldowns=Cooldowns(threshold=settings.cooldown_failures, seconds=settings.cooldown_seconds),
                      cost_sink=get_cost_sink())
    from mixcore.mixes.registry import install_resolvers

    install_resolvers(gateway, get_store)
    return gateway


def get_gateway() -> Gateway:
    global _gateway
    if _gateway is None:
        with _lock:
            if _gateway is None:
                _gateway = build_gateway()
    return _gateway


def set_gateway(gateway: Gateway | None) -> None:
    global _gateway
    _gateway = gateway
