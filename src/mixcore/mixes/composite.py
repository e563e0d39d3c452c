"""Synthesis, cascade and vote mixes (built in the synthesis issue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mixcore.api.schemas import ChatCompletionRequest
from mixcore.errors import InvalidRequest
from mixcore.mixes.definitions import MixDefinition
from mixcore.mixes.plans import Plan

if TYPE_CHECKING:
    from mixcore.mixes.gateway import Gateway
    from mixcore.mixes.registry import MixRegistry


def composite_plan(mix: MixDefinition, request: ChatCompletionRequest, registry: MixRegistry,
                   gateway: Gateway) -> Plan:
    raise InvalidRequest(f"{mix.id} is a {mix.kind} mix, which this deployment does not run yet.", param="model")
