"""Price tables checked rate by rate: a poisoned rate is refused for its model while the rest of its table is used, a
move a second table confirms is accepted, a slow ratchet stops at the anchor, an operator's price and word win, and
a malformed table never becomes the last good one. Every table here is a real fixture table with one entry edited
the way the attack or the genuine change would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mixcore.catalog import Catalog, packaged_catalog_file, packaged_overrides
from mixcore.catalog.build import build_from_tables
from mixcore.catalog.live import live_file
from mixcore.catalog.models import CatalogFile, CatalogModel, Price
from mixcore.catalog.price_checks import PriceMove, check_prices
from mixcore.catalog.prices import LITELLM, MODELSDEV, OPENROUTER, PriceTable, parse_table
from mixcore.cli import accept_prices
from mixcore.leaderboards import service
from mixcore.settings import get_settings
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES

PRICING = FIXTURES / "pricing"
FILES = {LITELLM: "model_prices_and_context_window.json", OPENROUTER: "openrouter_models_2026-04-04.json",
         MODELSDEV: "modelsdev_api_2026-04-04.json"}
# Priced from LiteLLM's table, and listed by OpenRouter as openai/gpt-4-1106-preview: a second source.
LITELLM_MODEL, LITELLM_KEY = "openai/gpt-4-1106-preview", "gpt-4-1106-preview"
LONG_MODEL = "anthropic/claude-sonnet-4-20250514"  # models.dev-priced, with a long-context tier
SEED = {m.id: m for m in packaged_catalog_file().models}


def real(source: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PRICING / FILES[source]).read_text())
    return data


def tables(**edited: dict[str, Any]) -> dict[str, PriceTable]:
    return {source: parse_table(json.dumps(edited.get(source.replace(".", "")) or real(source)).encode(),
                                FILES[source]) for source in FILES}


def check(found: dict[str, PriceTable], *, live: dict[str, CatalogModel] | None = None,
          anchors: dict[str, Price] | None = None,
          operator: tuple[str, ...] = ()) -> tuple[CatalogFile, list[PriceMove], dict[str, Price]]:
    built = build_from_tables(found, [], packaged_overrides(), built_on="2026-12-03T00:00:00")
    moves, confirmed = check_prices(built.models, live or SEED, anchors or {}, SEED, found, operator)
    return built, moves, confirmed


def price_of(built: CatalogFile, model_id: str) -> Price | None:
    return next(m.price for m in built.models if m.id == model_id)


def litellm_with(**entry: Any) -> dict[str, Any]:
    data = real(LITELLM)
    data[LITELLM_KEY] = {**data[LITELLM_KEY], **entry}
    return data


def test_the_real_tables_pass_against_the_catalog_they_built() -> None:
    _, moves, _ = check(tables())
    assert moves == []
    assert SEED[LITELLM_MODEL].price_source == LITELLM
    assert SEED[LITELLM_MODEL].price == Price(input=10.0, output=30.0)  # LiteLLM: 1e-05 and 3e-05 a token


@pytest.mark.parametrize(("poison", "rate"), [
    ({"input_cost_per_token": 1e-08}, "input"),  # a thousandfold cut (a unit slip)
    ({"input_cost_per_token": 0}, "input"),  # input free, output unchanged
    ({"output_cost_per_reasoning_token": 0}, "reasoning output"),  # thinking free where output is paid
    ({"cache_read_input_token_cost": 0}, "cached input"),
    ({"input_cost_per_token_above_128k_tokens": 0, "output_cost_per_token_above_128k_tokens": 0},
     "long-context input"),
])
def test_a_poisoned_rate_is_refused_for_its_model_only_and_the_rest_of_the_table_is_used(
        poison: dict[str, Any], rate: str) -> None:
    data = litellm_with(**poison)
    data["brand-new-model"] = {**real(LITELLM)[LITELLM_KEY], "input_cost_per_token": 2e-06,
                               "output_cost_per_token": 8e-06}
    built, moves, confirmed = check(tables(litellm=data))
    assert [(m.model, m.confirmed_by) for m in moves] == [(LITELLM_MODEL, None)]
    assert any(line.startswith(rate) for line in moves[0].rates), moves[0].rates
    assert price_of(built, LITELLM_MODEL) == SEED[LITELLM_MODEL].price  # the price it had stays
    assert price_of(built, "openai/brand-new-model") == Price(input=2.0, output=8.0)  # the table's new model is used
    assert confirmed == {}


def test_a_long_context_tier_of_zero_in_models_dev_is_refused() -> None:
    data = real(MODELSDEV)
    api_model = LONG_MODEL.split("/", 1)[1]
    data["anthropic"]["models"][api_model]["cost"]["context_over_200k"] = {"input": 0, "output": 0}
    built, moves, _ = check(tables(modelsdev=data))
    assert [m.model for m in moves] == [LONG_MODEL]
    assert price_of(built, LONG_MODEL) == SEED[LONG_MODEL].price


def test_a_tenfold_cut_a_second_table_confirms_is_accepted_and_becomes_the_anchor() -> None:
    # LiteLLM cuts gpt-4-1106-preview tenfold ($10/$30 → $1/$3) and OpenRouter lists it at the same new price.
    openrouter = real(OPENROUTER)
    entry = next(e for e in openrouter["data"] if e["id"] == "openai/" + LITELLM_KEY)
    entry["pricing"].update(prompt="0.000001", completion="0.000003")
    built, moves, confirmed = check(tables(litellm=litellm_with(input_cost_per_token=1e-06,
                                                                output_cost_per_token=3e-06),
                                           openrouter=openrouter))
    # Both tables moved: each model is confirmed by the other table (OpenRouter's own entry by LiteLLM's).
    via_openrouter = "openrouter/openai/" + LITELLM_KEY
    assert sorted((m.model, m.confirmed_by) for m in moves) == [(LITELLM_MODEL, OPENROUTER),
                                                                (via_openrouter, LITELLM)]
    assert price_of(built, LITELLM_MODEL) == Price(input=1.0, output=3.0)
    assert confirmed[LITELLM_MODEL] == Price(input=1.0, output=3.0)
    assert (confirmed[via_openrouter].input, confirmed[via_openrouter].output) == (1.0, 3.0)


def test_a_cut_of_nine_a_run_stops_at_a_tenth_of_the_anchor() -> None:
    live = dict(SEED)
    charged: list[float] = []
    for run in range(1, 4):  # ÷9, ÷81, ÷729 of the packaged $10 input
        built, moves, _ = check(tables(litellm=litellm_with(input_cost_per_token=1e-05 / 9 ** run)), live=live)
        live = {m.id: m for m in built.models}
        charged.append(live[LITELLM_MODEL].price.input)  # type: ignore[union-attr]
        assert bool(moves) is (run > 1)
    assert charged == pytest.approx([10 / 9, 10 / 9, 10 / 9])


def test_an_operators_price_is_not_second_guessed() -> None:
    _, moves, _ = check(tables(litellm=litellm_with(input_cost_per_token=1e-08)), operator=(LITELLM_MODEL,))
    assert moves == []


def test_a_new_model_whose_price_another_table_contradicts_is_unpriced() -> None:
    data = real(LITELLM)
    openrouter = real(OPENROUTER)
    listed = next(e for e in openrouter["data"] if e["id"] == "openai/gpt-4-1106-preview")
    openrouter["data"].append({**listed, "id": "openai/gpt-9-preview", "pricing": {"prompt": "0.00001",
                                                                                  "completion": "0.00003"}})
    data["gpt-9-preview"] = {**data[LITELLM_KEY], "input_cost_per_token": 1e-09, "output_cost_per_token": 3e-09}
    live = {k: v for k, v in SEED.items() if k != "openai/gpt-9-preview"}
    built, moves, _ = check(tables(litellm=data, openrouter=openrouter), live=live)
    # Each table's entry is contradicted by the other's: neither is charged.
    assert sorted(m.model for m in moves) == ["openai/gpt-9-preview", "openrouter/openai/gpt-9-preview"]
    for model_id in ("openai/gpt-9-preview", "openrouter/openai/gpt-9-preview"):
        model = next(m for m in built.models if m.id == model_id)
        assert model.price is None and model.unpriced is not None


def test_a_paid_model_listed_at_zero_is_unpriced_unless_its_provider_serves_it_free() -> None:
    catalog = Catalog.from_file(packaged_catalog_file())
    compound = catalog.get("groq/groq/compound")  # models.dev lists it at $0; Groq bills its tools and models
    assert compound is not None and compound.price is None and "free_models.json" in (compound.unpriced or "")
    free = catalog.get("openrouter/openai/gpt-oss-20b:free")  # OpenRouter's :free variants are free
    assert free is not None and free.price == Price(input=0.0, output=0.0)


# The whole refresh: malformed tables, and an operator accepting a refused move.
@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MIXCORE_SOURCES_MIRROR", str(tmp_path))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    (tmp_path / "pricing").mkdir()
    for source, name in FILES.items():
        (tmp_path / "pricing" / name).write_text(json.dumps(real(source)))
    yield tmp_path
    get_settings.cache_clear()


MALFORMED = [
    (OPENROUTER, lambda d: {"data": [None, *d["data"]]}),  # a null entry
    (OPENROUTER, lambda d: {"data": [{**e, "id": 7} for e in d["data"]]}),  # ids that are numbers
    (MODELSDEV, lambda d: {k: {**v, "models": [1, 2]} if k == "openai" else v for k, v in d.items()}),
    (MODELSDEV, lambda d: {k: {**v, "models": {m: "x" for m in v["models"]}} if k == "anthropic" else v
                           for k, v in d.items()}),
    (LITELLM, lambda d: {k: ({**v, "max_output_tokens": "lots", "max_input_tokens": [1]} if isinstance(v, dict) else v)
                         for k, v in d.items()}),
]


@pytest.mark.anyio
async def test_malformed_tables_are_refused_and_the_refresh_goes_on_with_the_last_good_one(mirror: Path) -> None:
    store = MemoryStore()
    first = await service.refresh_prices(store, mirror / "pricing", fetch=True)
    good = {source: store.get_price_table(source) for source in FILES}
    for source, break_it in MALFORMED:
        path = mirror / "pricing" / FILES[source]
        path.write_text(json.dumps(break_it(real(source))))
        report = await service.refresh_prices(store, mirror / "pricing", fetch=True)
        outcome = next(t for t in report.tables if t.source == source)
        assert outcome.action == "rejected" and outcome.reason.startswith("malformed"), (outcome, source)
        assert store.get_price_table(source) == good[source]
        assert report.version == first.version
        path.write_text(json.dumps(real(source)))


@pytest.mark.anyio
async def test_an_unconfirmed_move_waits_for_catalog_accept_which_prints_it_and_applies_it(
        mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = MemoryStore()
    await service.refresh_prices(store, mirror / "pricing", fetch=True)
    (mirror / "pricing" / FILES[LITELLM]).write_text(json.dumps(litellm_with(input_cost_per_token=1e-06,
                                                                             output_cost_per_token=3e-06)))
    report = await service.refresh_prices(store, mirror / "pricing", fetch=True)
    assert [(m.model, m.confirmed_by) for m in report.price_moves] == [(LITELLM_MODEL, None)]
    assert live_file(store).models[[m.id for m in live_file(store).models].index(LITELLM_MODEL)].price == SEED[
        LITELLM_MODEL].price
    assert await asyncio.to_thread(accept_prices, store, LITELLM) == 0
    printed = capsys.readouterr().out
    assert LITELLM_MODEL in printed and "input 10 → 1" in printed
    accepted = {m.id: m for m in live_file(store).models}[LITELLM_MODEL]
    assert accepted.price == Price(input=1.0, output=3.0)
    # The next refresh keeps the accepted price: it is the anchor now.
    again = await service.refresh_prices(store, mirror / "pricing", fetch=True)
    assert again.price_moves == []
    assert {m.id: m for m in live_file(store).models}[LITELLM_MODEL].price == Price(input=1.0, output=3.0)
    assert await asyncio.to_thread(accept_prices, store, LITELLM) == 0
    assert "nothing to accept" in capsys.readouterr().out

