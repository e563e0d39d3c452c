"""Which mix resolvers a gateway consults, in order, before treating a model as direct."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mixcore.mixes.gateway import Gateway


def install_resolvers(gateway: Gateway, store: Callable[[], Any]) -> None:
    """Index, synthesis, cascade and vote mixes register here as they are built."""
    gateway.mix_resolvers.clear()
