"""The model catalog's schema: callable provider model ids with prices, limits and aliases."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Modalities(BaseModel):
    input: list[str] = Field(default_factory=lambda: ["text"])
    output: list[str] = Field(default_factory=lambda: ["text"])


class Price(BaseModel):
    """USD per 1M tokens."""

    input: float
    output: float
    cached_input: float | None = None


class CatalogModel(BaseModel):
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
    open_weights: bool = False
    release_date: str | None = None


class UnmappedName(BaseModel):
    name: str
    reason: str


class CatalogFile(BaseModel):
    schema_version: int = 1
    generated_from: list[str] = Field(default_factory=list)
    models: list[CatalogModel]
    unmapped: list[UnmappedName] = Field(default_factory=list)
