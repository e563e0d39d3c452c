"""The live catalog on the local stack: a fresh stack prices from the packaged seed, and an operator's price
override reaches the running handlers (listing, cost records) without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mixcore.catalog import packaged_catalog_file
from tests.e2e.conftest import DEV_KEY, RunningStack, cli

pytestmark = pytest.mark.e2e
USER = [{"role": "user", "content": "hi"}]
MODEL = "openai/gpt-4o"


def listing(stack: RunningStack) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{stack.base_url}/models", headers={"authorization": f"Bearer {DEV_KEY}"},
                                       timeout=10).json()
    return answer


def ask(stack: RunningStack) -> dict[str, Any]:
    answer = stack.client().chat.completions.create(model=MODEL, messages=USER, max_tokens=20)  # type: ignore
    return stack.records_for({answer.id})[answer.id]


@pytest.fixture
def overridable(clean_stack: RunningStack) -> Iterator[RunningStack]:
    yield clean_stack
    assert cli(clean_stack, "catalog", "put", "--reset").returncode == 0


def test_a_fresh_stack_prices_from_the_seed_and_an_override_applies_without_a_restart(
        overridable: RunningStack) -> None:
    seed = packaged_catalog_file()
    price = next(m.price for m in seed.models if m.id == MODEL)
    assert price is not None
    models = listing(overridable)
    assert models["catalog_version"] == seed.version
    listed = next(m for m in models["data"] if m["id"] == MODEL)
    assert (listed["pricing"]["input"], listed["pricing"]["output"]) == (price.input, price.output)
    record = ask(overridable)
    assert record["catalog_version"] == seed.version
    assert record["calls"][-1]["price"]["input"] == price.input

    put = cli(overridable, "catalog", "put", "--price", f"{MODEL}=0.5,1.5")
    assert put.returncode == 0, put.stderr
    deadline = time.monotonic() + 10  # the stack's cache TTL is 0: the catalog is read again within a second
    while listing(overridable)["catalog_version"] == seed.version:
        assert time.monotonic() < deadline, "the override never reached the catalog function"
        time.sleep(0.2)
    models = listing(overridable)
    assert models["catalog_version"].startswith(seed.version + "+")
    listed = next(m for m in models["data"] if m["id"] == MODEL)
    assert (listed["pricing"]["input"], listed["pricing"]["output"]) == (0.5, 1.5)
    # The provider reports 1,000 prompt and 20 completion tokens (max_tokens 20): at $0.5 and $1.5 per 1M, $0.00053
    overridable.behaviour(MODEL, {"usage": {"prompt_tokens": 1_000, "completion_tokens": 20}})
    deadline = time.monotonic() + 10
    while (record := ask(overridable))["catalog_version"] == seed.version:
        assert time.monotonic() < deadline, "the override never reached the chat function"
    call = record["calls"][-1]
    assert record["catalog_version"] == models["catalog_version"]
    assert (call["prompt_tokens"], call["completion_tokens"]) == (1_000, 20)
    assert call["cost_usd"] == pytest.approx((1_000 * 0.5 + 20 * 1.5) / 1e6)
    shown = cli(overridable, "catalog", "show")
    assert shown.returncode == 0 and seed.version in shown.stdout and '"input": 0.5' in shown.stdout


def test_catalog_put_refuses_an_unknown_model(overridable: RunningStack) -> None:
    refused = cli(overridable, "catalog", "put", "--alias", "Brand-New=openai/not-a-model")
    assert refused.returncode == 2 and "openai/not-a-model" in refused.stderr
