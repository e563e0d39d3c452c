"""Integration fixtures: moto's server as AWS with the template's resources, handlers loaded from functions/."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mixcore import container, runtime
from mixcore.local.aws import EmbeddedAws
from mixcore.local.rest_api import LambdaContext, is_web_adapter_function, load_asgi_app, load_handler
from mixcore.local.stack import free_port
from mixcore.local.template import Template
from mixcore.local.web_adapter import invoke_asgi
from mixcore.mixes.gateway import Gateway
from mixcore.mixes.registry import MixRegistry
from mixcore.settings import get_settings
from tests.conftest import REPO


@pytest.fixture(scope="session")
def template() -> Template:
    return Template.load(REPO / "template.yaml")


@pytest.fixture(scope="session")
def aws(template: Template) -> Iterator[EmbeddedAws]:
    saved = dict(os.environ)
    embedded = EmbeddedAws(free_port()).start()
    os.environ.update(embedded.environment())
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"})
    embedded.create_resources(template)
    for fn in template.functions().values():
        for key, value in template.resolve(fn.environment, embedded.names, "us-east-1").items():
            os.environ[key] = str(value)
    get_settings.cache_clear()
    container.set_store(None)
    yield embedded
    embedded.stop()
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()
    container.set_store(None)


@pytest.fixture
def wired(aws: EmbeddedAws, gateway: Gateway) -> Iterator[Gateway]:
    """The handlers' container uses the moto-backed store and a gateway on the demo providers."""
    gateway.registry = MixRegistry(container.get_store, gateway.upstream)
    container.set_gateway(gateway)
    container.set_cost_sink(gateway.cost_sink)
    yield gateway
    container.set_gateway(None)
    container.set_cost_sink(None)


@pytest.fixture(scope="session")
def invoke(template: Template, aws: EmbeddedAws) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    functions = template.functions()
    handlers: dict[str, Any] = {}

    def call(function: str, event: dict[str, Any]) -> dict[str, Any]:
        """The function's answer to the event; a web-adapter function's ASGI app is driven as the adapter would."""
        definition = functions[function]
        if is_web_adapter_function(definition):
            if function not in handlers:
                handlers[function] = load_asgi_app(REPO, definition)
            return runtime.run(invoke_asgi(handlers[function], event))
        if function not in handlers:
            handlers[function] = load_handler(REPO, definition)
        result: dict[str, Any] = handlers[function](event, LambdaContext(function_name=function, timeout_seconds=30))
        return result

    return call


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((REPO / "events" / name).read_text())
    return event
