"""The live catalog: a new leader becomes callable, with its price, after one indexer run; a wrong price table
never replaces the last good one; warm containers follow within the cache window; an operator's override
applies without a redeploy."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixcore.catalog import Catalog, get_catalog, packaged_catalog_file
from mixcore.catalog.live import LiveCatalog, apply_overrides
from mixcore.catalog.models import CatalogFile, Overrides, Price
from mixcore.catalog.prices import LITELLM, OPENROUTER, PriceTable, check_table, parse_table
from mixcore.leaderboards import service
from mixcore.local.demo_providers import DemoProviderServer
from mixcore.mixes.gateway import Gateway
from mixcore.schemas import ChatCompletionRequest
from mixcore.settings import get_settings
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES, request_context, use_store

pytestmark = pytest.mark.anyio

PRICING = FIXTURES / "pricing"
LITELLM_FILE = "model_prices_and_context_window.json"
ARENA_TEXT = FIXTURES / "leaderboards" / "lmsys" / "arena-catalog_leaderboard-text-style-control_2025-12-17.json"
NEW_LEADER = "gpt-5.5"
# What the newer LiteLLM table charges for it (USD per token, as LiteLLM writes prices).
NEW_INPUT, NEW_OUTPUT = 2.5e-06, 2e-05


def real_table(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PRICING / name).read_text())
    return data


def newer_litellm(input_cost: float = NEW_INPUT) -> dict[str, Any]:
    """LiteLLM's real table plus the new model, listed as the table lists its sibling gpt-5 (same fields)."""
    table = real_table(LITELLM_FILE)
    entry = copy.deepcopy(table["gpt-5"])
    entry.update(input_cost_per_token=input_cost, output_cost_per_token=NEW_OUTPUT,
                 cache_read_input_token_cost=input_cost / 10)
    for key in [k for k in entry if k.endswith(("_flex", "_priority"))]:
        del entry[key]
    table[NEW_LEADER] = entry
    return table


def arena_with_new_leader() -> dict[str, Any]:
    """The real arena-catalog text leaderboard (style control: what index/lmsys-overall reads), with the new
    model at #1 of 'full' (overall) by half the top-10 spread."""
    board: dict[str, Any] = json.loads(ARENA_TEXT.read_text())
    ratings = sorted((m["rating"] for m in board["full"].values()), reverse=True)
    top = ratings[0] + (ratings[0] - ratings[9]) / 2
    board["full"] = {NEW_LEADER: {"rating": top, "rating_q975": top + 8, "rating_q025": top - 8},
                        **board["full"]}
    return board


def write_mirror(root: Path, litellm: dict[str, Any]) -> Path:
    """A sources mirror laid out as MIXCORE_SOURCES_MIRROR expects: leaderboards/<source>/ and pricing/."""
    (root / "leaderboards" / "lmsys").mkdir(parents=True, exist_ok=True)
    (root / "leaderboards" / "lmsys" / ARENA_TEXT.name).write_text(json.dumps(arena_with_new_leader()))
    (root / "pricing").mkdir(exist_ok=True)
    for name in ("modelsdev_api_2026-04-04.json", "openrouter_models_2026-04-04.json"):
        shutil.copy(PRICING / name, root / "pricing" / name)
    (root / "pricing" / LITELLM_FILE).write_text(json.dumps(litellm))
    return root


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mirror_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MIXCORE_SOURCES_MIRROR", str(tmp_path))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def knows_new_leader(demo: DemoProviderServer) -> Iterator[None]:
    """The demo OpenAI answers for the new model, as the real API would once it is listed."""
    demo.state.known_models["openai"].add(NEW_LEADER)
    yield
    demo.state.known_models["openai"].discard(NEW_LEADER)


async def ask(gateway: Gateway, mix: str) -> tuple[dict[str, Any], Any]:
    request = ChatCompletionRequest.model_validate({"model": mix, "max_tokens": 50,
                                                    "messages": [{"role": "user", "content": "hi"}]})
    ctx = request_context(gateway)
    result = await gateway.complete(request, ctx)
    return result.body, ctx.record


async def test_a_new_leader_is_answered_with_its_price_after_one_indexer_run(
        gateway: Gateway, mirror_env: Path, knows_new_leader: None) -> None:
    store = MemoryStore()
    gateway.upstream.settings.cache_ttl_seconds = 0  # rankings: read afresh (the catalog has its own clock)
    use_store(gateway, store)
    clock = Clock()
    gateway.upstream.catalogs = LiveCatalog(lambda: store, 60, clock=clock)
    assert get_catalog().resolve_name(NEW_LEADER) is None  # absent from the packaged catalog
    before, record = await ask(gateway, "index/lmsys-overall")
    assert before["model"] != f"openai/{NEW_LEADER}"
    assert record.catalog_version == packaged_catalog_file().version

    write_mirror(mirror_env, newer_litellm())
    result = await service.run_scheduled(store)
    assert result["catalog"]["changed"], result
    assert result["catalog"]["tables"][LITELLM] == "stored"

    clock.now += 61  # the next cache window of a warm container
    body, record = await ask(gateway, "index/lmsys-overall")
    assert body["model"] == f"openai/{NEW_LEADER}", body["mix"]
    assert body["mix"]["attempts"][0]["rank"] == 1
    call = record.calls[-1]
    assert (call.price.input, call.price.output) == pytest.approx((NEW_INPUT * 1e6, NEW_OUTPUT * 1e6))
    expected = (call.prompt_tokens * NEW_INPUT + call.completion_tokens * NEW_OUTPUT)
    assert call.cost_usd == pytest.approx(expected)
    assert record.catalog_version == result["catalog"]["version"]

    # A copy of the table with the new model's price ×1000 is refused for that model (no second table lists it
    # so); the live price stays, and the rest of the table is used.
    write_mirror(mirror_env, newer_litellm(NEW_INPUT * 1000))
    again = await service.run_scheduled(store)
    assert again["catalog"]["tables"][LITELLM] == "stored"
    assert again["catalog"]["price_moves_refused"] == [f"openai/{NEW_LEADER}"]
    assert again["catalog"]["version"] == result["catalog"]["version"]
    clock.now += 61
    body, record = await ask(gateway, "index/lmsys-overall")
    assert record.calls[-1].price.input == pytest.approx(NEW_INPUT * 1e6)


def table(name: str, data: dict[str, Any] | None = None) -> PriceTable:
    return parse_table(json.dumps(data if data is not None else real_table(name)).encode(), name)


def test_a_table_listing_far_fewer_models_is_refused_with_the_reason() -> None:
    seed = packaged_catalog_file()
    openrouter = real_table("openrouter_models_2026-04-04.json")
    assert check_table(table(OPENROUTER, openrouter), seed.tables[OPENROUTER].models) is None
    shrunk = {"data": openrouter["data"][:100]}
    why = check_table(table(OPENROUTER, shrunk), seed.tables[OPENROUTER].models)
    assert why == f"lists 100 models, far fewer than the {len(openrouter['data'])} of the last good table"


def priced_by(source: str) -> str:
    """A model of the packaged catalog whose price comes from `source` and which that table lists."""
    return next(m.id for m in packaged_catalog_file().models if m.price_source == source and m.price
                and m.price.input > 0 and m.base_id is None and m.provider == "openai")


async def test_a_refused_table_keeps_the_last_good_one_and_is_counted(mirror_env: Path) -> None:
    store = MemoryStore()
    write_mirror(mirror_env, newer_litellm())
    first = await service.run_scheduled(store)
    broken = mirror_env / "pricing" / "openrouter_models_2026-04-04.json"
    broken.write_text(json.dumps({"data": real_table(broken.name)["data"][:10]}))
    second = await service.run_scheduled(store)
    assert second["catalog"]["tables"][OPENROUTER].startswith("rejected: lists 10 models")
    assert second["catalog"]["version"] == first["catalog"]["version"]
    assert second["rejected"] == first["rejected"] + 1


def test_warm_containers_follow_a_new_version_within_the_window_and_survive_a_store_failure() -> None:
    store = MemoryStore()
    clock = Clock()
    live = LiveCatalog(lambda: store, 60, clock=clock)
    assert live.current() is get_catalog()
    newer = packaged_catalog_file().model_copy(deep=True)
    newer.models = [m for m in newer.models if m.id != "openai/gpt-4o"]
    newer.version = "20261123T000000-0123456789"
    body = gzip.compress(newer.model_dump_json().encode())
    store.put_catalog_version(newer.version, {"version": newer.version}, body)
    store.put_catalog_state({"version": newer.version})
    assert live.current().get("openai/gpt-4o") is not None  # within the window: the catalog held
    clock.now += 61
    assert live.current().version == newer.version and live.current().get("openai/gpt-4o") is None

    def broken() -> MemoryStore:
        raise ConnectionError("DynamoDB unreachable")

    failing = LiveCatalog(broken, 60, clock=clock)
    assert failing.current() is get_catalog()
    live.store = broken
    clock.now += 61
    assert live.current().version == newer.version


def test_operator_overrides_apply_on_top_of_the_live_catalog() -> None:
    seed = packaged_catalog_file()
    model_id = priced_by(LITELLM)
    overrides = Overrides(aliases={"Brand-New-Arena-Name": model_id}, unmapped={"gemini-3-pro": "not in our region"},
                          prices={model_id: Price(input=1.0, output=2.0)}, exclude=["openai/gpt-4o"])
    applied = apply_overrides(seed, overrides)
    catalog = CatalogFile.model_validate(applied.model_dump())
    live = Catalog.from_file(catalog)
    assert live.resolve_name("brand new arena name").id == model_id  # type: ignore[union-attr]
    assert live.map_entry({"name": "gemini-3-pro"}) is None
    assert live.unmapped_reason("gemini-3-pro") == "not in our region"
    assert (live.models[model_id].price.input, live.models[model_id].price.output) == (1.0, 2.0)  # type: ignore
    assert live.get("openai/gpt-4o") is None
    assert live.version.startswith(seed.version + "+")


def test_with_a_zero_ttl_an_override_shows_on_the_very_next_request() -> None:
    # Given the local stack's setting (MIXCORE_CACHE_TTL_SECONDS=0) and a catalog just read, no time passing
    store = MemoryStore()
    live = LiveCatalog(lambda: store, 0, clock=Clock())
    model_id = priced_by(LITELLM)
    assert live.current().models[model_id].price.input != 100
    # When an operator stores a price (mixcore catalog put; USD per 1M tokens)
    store.put_catalog_overrides(Overrides(prices={model_id: Price(input=100, output=200)})
                                .model_dump(mode="json", exclude_defaults=True))
    # Then the very next request prices with it
    price = live.begin_request().models[model_id].price
    assert (price.input, price.output) == (100, 200)
