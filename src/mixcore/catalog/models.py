"""The model catalog's schema: callable provider model ids with prices, limits and aliases."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from mixcore.model import Model

# USD per 1M tokens: finite and not negative (a NaN rate makes every cost NaN, which no budget check stops).
Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Modalities(Model):
    input: list[str] = Field(default_factory=lambda: ["text"])
    output: list[str] = Field(default_factory=lambda: ["text"])


class LongContextPrice(Model):
    """The rates that apply to the whole call once its prompt is longer than `above_tokens` (USD per 1M)."""

    above_tokens: int
    input: Rate
    output: Rate
    cached_input: Rate | None = None
    cache_write: Rate | None = None


class Price(Model):
    """USD per 1M tokens, for every token class the price tables name."""

    input: Rate
    output: Rate
    cached_input: Rate | None = Field(None, description="cache reads (OpenAI cached_tokens, Anthropic "
                                                        "cache_read_input_tokens)")
    cache_write: Rate | None = Field(None, description="Anthropic cache_creation_input_tokens")
    reasoning_output: Rate | None = Field(None, description="reasoning tokens, when priced apart from output")
    long_context: LongContextPrice | None = None

    def tier(self, prompt_tokens: int) -> Price | LongContextPrice:
        """The rates for a call with this many prompt tokens."""
        if self.long_context is not None and prompt_tokens > self.long_context.above_tokens:
            return self.long_context
        return self

    def highest_input(self) -> float:
        """The most one prompt token can cost (a budget reserves at this rate)."""
        rates = [self.input, self.cache_write or 0.0]
        if self.long_context is not None:
            rates += [self.long_context.input, self.long_context.cache_write or 0.0]
        return max(rates)

    def highest_output(self) -> float:
        rates = [self.output, self.reasoning_output or 0.0]
        if self.long_context is not None:
            rates.append(self.long_context.output)
        return max(rates)


class ReasoningSettings(Model):
    """How a leaderboard variant was run: sent by the provider adapters on every call to it."""

    effort: Literal["none", "minimal", "low", "medium", "high"] | None = Field(
        None, description="OpenAI-style reasoning_effort")
    budget_tokens: int | None = Field(None, ge=0, description="a thinking budget in tokens (Anthropic thinking, "
                                                             "Gemini thinking_budget, OpenRouter reasoning)")

    def label(self) -> str:
        """The variant's id suffix, in the leaderboards' own spelling ('thinking-32k', 'reasoning-high')."""
        if self.budget_tokens is not None:
            budget = self.budget_tokens
            return f"thinking-{budget // 1024}k" if budget and budget % 1024 == 0 else f"thinking-{budget}"
        return f"reasoning-{self.effort}"


class ParameterRules(Model):
    """What one model's API takes of the chat fields (computed by catalog/parameters.py from the catalog entry and
    data/parameter_rules.json): what its provider refuses, what has no effect, where the output cap goes."""

    rejects: list[str] = Field(default_factory=list, description="fields the provider answers 400 for")
    ignores: list[str] = Field(default_factory=list, description="fields with no effect (Mixcore's own are not sent)")
    output_cap: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_output_tokens: int | None = None
    thinking_budget: int | None = Field(None, description="tokens of thinking the output cap must also hold")
    first_token_seconds: float | None = Field(None, description="the most its first token may take while a fallback "
                                                                "waits (None: the gateway's attempt timeout)")
    between_tokens_seconds: float | None = Field(None, description="the most a stream may pause once begun (None: "
                                                                   "the gateway's upstream timeout)")

    def refuses(self, field: str) -> bool:
        return field in self.rejects


class CatalogModel(Model):
    id: str = Field(description="provider/model, the id clients send")
    provider: str
    api_model: str = Field(description="the provider's own model id")
    name: str = ""
    aliases: list[str] = Field(default_factory=list, description="leaderboard names that mean this model")
    price: Price | None = None
    price_source: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    modalities: Modalities = Field(default_factory=Modalities)
    reasoning: bool = False
    temperature: bool | None = Field(None, description="models.dev: whether sampling settings (temperature) apply")
    open_weights: bool = False
    release_date: str | None = None
    base_id: str | None = Field(None, description="for a reasoning variant: the catalog id it runs with settings")
    settings: ReasoningSettings | None = None
    deprecation_date: str | None = Field(None, description="the provider's shutdown date (LiteLLM), YYYY-MM-DD")
    retired: str | None = Field(None, description="why the model is no longer callable, when the price data say so")
    unpriced: str | None = Field(None, description="why a price the tables list is not charged")

    def lifecycle_reason(self, today: str) -> str | None:
        """Why an index mix must not pick this model today (retired, or past its deprecation date), or None."""
        if self.retired:
            return "retired: " + self.retired
        if self.deprecation_date and self.deprecation_date <= today:
            return f"retired: deprecated on {self.deprecation_date} (LiteLLM's deprecation_date)"
        return None


class UnmappedName(Model):
    name: str
    reason: str


class TableStamp(Model):
    """Which price table of a source a catalog was built from."""

    origin: str
    models: int = Field(description="how many models the table listed (the next table must list at least half)")
    content_hash: str = ""
    fetched_at: str | None = None


class CatalogFile(Model):
    schema_version: int = 1
    version: str = Field("", description="YYYYMMDD-<content hash>: named by every cost record it priced")
    generated_from: list[str] = Field(default_factory=list)
    tables: dict[str, TableStamp] = Field(default_factory=dict, description="price source → the table used")
    models: list[CatalogModel]
    unmapped: list[UnmappedName] = Field(default_factory=list)


class Overrides(Model):
    """Hand-kept corrections: the packaged overrides.json at build time, and an operator's (`mixcore catalog
    put`) on top of whatever catalog is live."""

    model_config = ConfigDict(extra="forbid")

    aliases: dict[str, str] = Field(default_factory=dict, description="leaderboard name → catalog id")
    unmapped: dict[str, str] = Field(default_factory=dict, description="leaderboard name → why not callable")
    exclude: list[str] = Field(default_factory=list, description="catalog ids to leave out")
    prices: dict[str, Price] = Field(default_factory=dict, description="catalog id → the price to charge")
    models: list[CatalogModel] = Field(default_factory=list, description="models to add (or replace) whole")

    def merged(self, other: Overrides) -> Overrides:
        """These overrides with `other`'s on top."""
        models = {m.id: m for m in self.models} | {m.id: m for m in other.models}
        return Overrides(aliases={**self.aliases, **other.aliases}, unmapped={**self.unmapped, **other.unmapped},
                         exclude=sorted({*self.exclude, *other.exclude}), prices={**self.prices, **other.prices},
                         models=list(models.values()))

    def is_empty(self) -> bool:
        return not (self.aliases or self.unmapped or self.exclude or self.prices or self.models)
