"""Whether a price the tables now list may be charged: every rate of every model, checked one by one.

A rate moves when it is cut or raised tenfold or more, or when a paid rate becomes 0. Each rate of a
model's new price is compared with the price the live catalog charges and with the model's anchor: the
price an operator accepted (`mixcore catalog accept`) or a second table confirmed, else the packaged
catalog's. Comparing with a fixed anchor, not only the last run, stops a slow ratchet (÷9 a run) at a
tenth of the anchor. A move is accepted when a second table (OpenRouter's, models.dev's or LiteLLM's)
lists the same model at the new rate (within `CONFIRM_FACTOR`), and the new price becomes the anchor;
an unconfirmed move is refused for that model only: it keeps the price it had, and the rest of its
table, new models included, is used. A new model's price is compared with the same model in another
table before it is charged. Operator overrides (`mixcore catalog put --price`) are never second-guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mixcore.catalog.build import price_from_litellm, price_from_modelsdev, price_from_openrouter
from mixcore.catalog.models import CatalogModel, Price
from mixcore.catalog.prices import LITELLM, LITELLM_PREFIX, MODELSDEV, PriceTable, key_in

MOVE_FACTOR = 10.0
CONFIRM_FACTOR = 1.5
# Mixcore provider → OpenRouter's vendor prefix, to find a direct model in OpenRouter's table.
OPENROUTER_VENDORS = {"openai": "openai", "anthropic": "anthropic", "google": "google", "xai": "x-ai",
                      "deepseek": "deepseek", "mistral": "mistralai", "moonshot": "moonshotai", "zai": "z-ai",
                      "alibaba": "qwen"}


def rates(price: Price) -> dict[str, float]:
    """Every rate a call can be billed at, as charged (a rate the table leaves out falls back, as billing does)."""
    long = price.long_context
    cached = price.cached_input if price.cached_input is not None else price.input
    written = price.cache_write if price.cache_write is not None else price.input
    found = {"input": price.input, "output": price.output, "cached input": cached, "cache write": written,
             "reasoning output": price.reasoning_output if price.reasoning_output is not None else price.output}
    # Without a tier, a long prompt is billed at the base rates: a tier that appears is compared with them.
    found.update({"long-context input": long.input if long else price.input,
                  "long-context output": long.output if long else price.output,
                  "long-context cached input": long.cached_input if long and long.cached_input is not None else cached,
                  "long-context cache write": long.cache_write if long and long.cache_write is not None else written})
    return found


def moved(new: float, old: float) -> bool:
    """A paid rate now free, or a rate cut or raised `MOVE_FACTOR`-fold or more."""
    if old > 0 and new <= 0:
        return True
    if new <= 0 or old <= 0 or new == old:
        return False
    return max(new, old) / min(new, old) >= MOVE_FACTOR


def close(new: float, other: float) -> bool:
    if new == other:
        return True
    return new > 0 and other > 0 and max(new, other) / min(new, other) <= CONFIRM_FACTOR


@dataclass
class PriceMove:
    model: str
    source: str
    rates: list[str]  # "output 10 → 1 (against the live catalog)"
    price: Price  # the new price
    was: Price | None
    confirmed_by: str | None = None

    def line(self) -> str:
        verdict = f"confirmed by {self.confirmed_by}" if self.confirmed_by else "refused, unconfirmed"
        return f"{self.model} ({self.source}): {'; '.join(self.rates)}: {verdict}"

    def stored(self) -> dict[str, Any]:
        return {"model": self.model, "rates": self.rates, "price": self.price.model_dump(mode="json"),
                "was": self.was.model_dump(mode="json") if self.was else None}


def listed_price(table: PriceTable, model: CatalogModel) -> Price | None:
    """The price another table lists for the same model, if it lists it."""
    data = table.data
    vendor, _, direct = model.api_model.partition("/") if model.provider == "openrouter" else ("", "", "")
    provider = next((p for p, v in OPENROUTER_VENDORS.items() if v == vendor), None)
    if table.source == LITELLM:
        keys = [key_in(LITELLM, model), "openrouter/" + model.api_model,
                LITELLM_PREFIX[provider] + direct if provider in LITELLM_PREFIX else None]
        raw = next((data[k] for k in keys if k and isinstance(data.get(k), dict)), None)
        return price_from_litellm(raw) if raw is not None else None
    if table.source == MODELSDEV:
        if provider is not None:
            model = model.model_copy(update={"provider": provider, "api_model": direct})
        key = key_in(MODELSDEV, model)
        source_id, _, api_model = (key or "").partition("/")
        block = data.get(source_id)
        models = block.get("models") if isinstance(block, dict) else None
        raw = models.get(api_model) if isinstance(models, dict) else None
        return price_from_modelsdev(raw.get("cost") or {}) if isinstance(raw, dict) else None
    prefix = OPENROUTER_VENDORS.get(model.provider)
    wanted = model.api_model if model.provider == "openrouter" else f"{prefix}/{model.api_model}" if prefix else None
    for raw in data.get("data") or []:
        if isinstance(raw, dict) and raw.get("id") == wanted:
            return price_from_openrouter(raw.get("pricing") or {})
    return None


def confirmation(model: CatalogModel, price: Price, changed: Iterable[str],
                 tables: Mapping[str, PriceTable]) -> str | None:
    """The other table that lists `model` at every changed rate of `price`, if one does."""
    for source, table in tables.items():
        if source == model.price_source:
            continue
        other = listed_price(table, model)
        if other is not None:
            new_rates, other_rates = rates(price), rates(other)
            if all(close(new_rates[r], other_rates[r]) for r in changed):
                return source
    return None


def check_prices(built: list[CatalogModel], live: Mapping[str, CatalogModel], anchors: Mapping[str, Price],
                 packaged: Mapping[str, CatalogModel], tables: Mapping[str, PriceTable],
                 operator_priced: Iterable[str]) -> tuple[list[PriceMove], dict[str, Price]]:
    """Check every built model's price; an unconfirmed move puts the price it had back (in place). Returns the
    moves (confirmed and refused) and the new anchors (the prices confirmed moves set)."""
    moves: list[PriceMove] = []
    new_anchors: dict[str, Price] = {}
    skip = set(operator_priced)
    by_id = {m.id: m for m in built}
    for model in built:
        if model.price is None or model.id in skip or model.base_id is not None:
            continue
        before = live.get(model.id)
        was = before.price if before is not None else None
        anchor = anchors.get(model.id)
        against = {"anchor": anchor} if anchor is not None else {
            "live catalog": was, "packaged catalog": packaged[model.id].price if model.id in packaged else None}
        new_rates = rates(model.price)
        changed: list[str] = []
        notes: list[str] = []
        old_rates = {what: rates(old_price) for what, old_price in against.items() if old_price is not None}
        for name, new in new_rates.items():
            for what, known in old_rates.items():
                old = known.get(name)
                if old is not None and moved(new, old) and name not in changed:
                    changed.append(name)
                    notes.append(f"{name} {old:g} → {new:g} USD per 1M (against the {what})")
        if not old_rates:
            # A new model: charged only if no other table lists it at a price far from this one.
            for source, table in tables.items():
                other = listed_price(table, model) if source != model.price_source else None
                if other is not None:
                    other_rates = rates(other)
                    changed = [n for n, v in new_rates.items() if moved(v, other_rates[n]) or moved(other_rates[n], v)]
                    notes = [f"{n} {new_rates[n]:g} where {source} lists {other_rates[n]:g} (a new model)"
                             for n in changed]
                    break
        if not changed:
            continue
        move = PriceMove(model.id, model.price_source, notes, model.price, was,
                         confirmation(model, model.price, changed, tables))
        moves.append(move)
        if move.confirmed_by:
            new_anchors[model.id] = model.price
        else:
            restore(model, was, by_id)
    return moves, new_anchors


def restore(model: CatalogModel, was: Price | None, by_id: Mapping[str, CatalogModel]) -> None:
    """A refused price: the model keeps the price it had (unpriced when it had none), and so do its variants."""
    model.price = was
    if was is None:
        model.price_source = ""
        model.unpriced = "its listed price moved and no second table confirms it (mixcore catalog accept)"
    for variant in by_id.values():
        if variant.base_id == model.id:
            variant.price, variant.price_source, variant.unpriced = model.price, model.price_source, model.unpriced

