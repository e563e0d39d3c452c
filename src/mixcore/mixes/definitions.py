"""Mix definitions: the schema of the data files (package defaults) and of user mixes in the store."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from mixcore.model import Model


class Constraints(Model):
    model_config = ConfigDict(extra="forbid")
    max_price: float | None = Field(default=None, ge=0, description="max USD per 1M output tokens")
    max_input_price: float | None = Field(default=None, ge=0, description="max USD per 1M input tokens")
    min_context: int | None = Field(default=None, ge=1, description="min context window in tokens")
    modalities: list[str] = Field(default_factory=list, description="input modalities needed, e.g. ['image']")
    allow_providers: list[str] | None = None
    deny_providers: list[str] = Field(default_factory=list)


class MixBase(Model):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*){1,2}$")
    description: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict, description="request defaults, e.g. temperature")


class IndexMix(MixBase):
    kind: Literal["index"] = "index"
    source: str
    category: str
    top_n: int = Field(default=5, ge=1, le=50)
    constraints: Constraints = Field(default_factory=Constraints)
    attempt_timeout_seconds: float | None = Field(default=None, gt=0, le=600)
    pin: list[str] = Field(default_factory=list, description="model ids that answer first, before the ranking's "
                           "(an operator's choice while a new leader is checked)")
    deny: list[str] = Field(default_factory=list, description="model ids or leaderboard names this mix never uses")


class Member(Model):
    """A model in a synthesis/cascade/vote mix: a `provider/model` id or an index position `index/x#2`."""

    model_config = ConfigDict(extra="forbid")
    model: str
    system: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)


class Layer(Model):
    model_config = ConfigDict(extra="forbid")
    proposers: list[Member] = Field(min_length=1)
    min_proposers: int | None = Field(default=None, ge=1)


class SynthesisMix(MixBase):
    kind: Literal["synthesis"] = "synthesis"
    layers: list[Layer] = Field(min_length=1)
    aggregator: list[Member] = Field(min_length=1, description="the final aggregator and its fallback chain")
    min_proposers: int = Field(default=1, ge=1)
    straggler_seconds: float = Field(default=5.0, ge=0, le=300)
    synthesis_prompt: str | None = None


class CascadeStep(Model):
    model_config = ConfigDict(extra="forbid")
    model: Member
    threshold: float = Field(default=0.7, ge=0, le=1, description="escalate when the judge scores below this")


class CascadeMix(MixBase):
    kind: Literal["cascade"] = "cascade"
    steps: list[CascadeStep] = Field(min_length=1)
    judge: Member | None = Field(default=None, description="None: each step's own model judges its answer")
    judge_samples: int = Field(default=1, ge=1, le=5)
    cost_lambda: float = Field(default=0.0, ge=0, description="lowers thresholds by λ × the next step's price")


class VoteMix(MixBase):
    kind: Literal["vote"] = "vote"
    voters: list[Member] = Field(min_length=1)
    samples: int = Field(default=5, ge=1, le=16, description="answers in all, spread over the voters")


class RouteMix(MixBase):
    """Easy prompts to a cheap model, hard ones to the leader: a router scores each prompt, and the top
    `strong_share` of prompts (by the router's shipped score quantiles) go to the strong side."""

    kind: Literal["route"] = "route"
    strong: str = Field(description="an index mix (its candidates, #1 first) or a provider/model id")
    weak: str | None = Field(default=None, description="an index mix or a provider/model id; None: the cheapest "
                             "model of the strong side's ranking whose Elo-predicted win rate against its #1 is at "
                             "least min_win_rate (and the next cheapest as fallbacks)")
    min_win_rate: float = Field(default=0.4, gt=0, lt=0.5)
    router: Literal["length", "ngram", "self-verify"] = Field(
        default="length", description="self-verify: a cascade (AutoMix): the weak side answers, checks its answer "
        "verify_samples times, and the strong side answers when the verified fraction is below verify_threshold")
    strong_share: float = Field(default=0.5, ge=0, le=1)
    verify_samples: int = Field(default=4, ge=1, le=16)
    verify_temperature: float = Field(default=1.0, ge=0, le=2)
    verify_threshold: float = Field(default=0.5, ge=0, le=1)


class AutoIndexMix(MixBase):
    """Classifies each prompt into an LMArena category (routing/categories.py) and answers with that category's
    index mix (`index/<source>-<category>`), or `fallback` when the category has none."""

    kind: Literal["auto"] = "auto"
    source: str = "lmsys"
    fallback: str = "index/lmsys-overall"


MixDefinition = Annotated[IndexMix | SynthesisMix | CascadeMix | VoteMix | RouteMix | AutoIndexMix,
                          Field(discriminator="kind")]


class MixFile(Model):
    schema_version: int = 1
    mixes: list[MixDefinition]


def parse_mix(data: dict[str, Any]) -> MixDefinition:
    return MixFile.model_validate({"mixes": [data]}).mixes[0]


@lru_cache(maxsize=1)
def default_mixes() -> dict[str, MixDefinition]:
    text = resources.files("mixcore.mixes").joinpath("data/defaults.json").read_text()
    return {m.id: m for m in MixFile.model_validate_json(text).mixes}


def default_index_categories() -> set[tuple[str, str]]:
    """The (source, category) pairs the default index mixes answer from."""
    return {(m.source, m.category) for m in default_mixes().values() if isinstance(m, IndexMix)}
