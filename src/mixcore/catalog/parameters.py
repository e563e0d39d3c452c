"""Per-model parameter rules: what each model's API refuses or ignores, and where its output cap goes.

The rules are data (data/parameter_rules.json, from the providers' documentation) applied to what the
catalog says of a model: its provider, whether it reasons (models.dev, LiteLLM), the reasoning setting of a
leaderboard variant, whether sampling applies to it (models.dev's `temperature` flag), its output limit.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import Field

from mixcore.catalog.models import CatalogModel, ParameterRules
from mixcore.model import Model

SAMPLING = ("temperature", "top_p")


class RuleSet(Model):
    rejects: list[str] = Field(default_factory=list)
    ignores: list[str] = Field(default_factory=list)
    output_cap: Literal["max_tokens", "max_completion_tokens"] | None = None
    except_effort: list[str] = Field(default_factory=list, description="reasoning efforts the rule does not cover")


class ProviderRules(Model):
    all: RuleSet = Field(default_factory=RuleSet, description="every model of the provider")
    reasoning: RuleSet = Field(default_factory=RuleSet, description="models that reason (at their setting)")
    thinking: RuleSet = Field(default_factory=RuleSet, description="variants run with a thinking budget")


class TimeLimits(Model):
    first_token_seconds: float
    between_tokens_seconds: float


class RulesFile(Model):
    providers: dict[str, ProviderRules] = Field(default_factory=dict)
    models: dict[str, RuleSet] = Field(default_factory=dict)
    time_limits: dict[Literal["reasoning", "thinking"], TimeLimits]


@lru_cache(maxsize=1)
def rules_file() -> RulesFile:
    text = resources.files("mixcore.catalog").joinpath("data/parameter_rules.json").read_text()
    return RulesFile.model_validate_json(text)


def parameter_rules(model: CatalogModel) -> ParameterRules:
    """The rules for one catalog entry (a reasoning variant gets its own: its effort or budget decides). Computed
    once per distinct entry (a route mix's request looks at dozens of candidates); the result is shared, not
    to be changed."""
    effort = model.settings.effort if model.settings is not None else None
    thinking = model.settings.budget_tokens if model.settings is not None else None
    return _rules(model.id, model.provider, model.reasoning, model.temperature, model.max_output_tokens, effort,
                  thinking)


@lru_cache(maxsize=4096)
def _rules(model_id: str, provider_name: str, reasoning: bool, temperature: bool | None,
           max_output_tokens: int | None, effort: str | None, thinking: int | None) -> ParameterRules:
    data = rules_file()
    provider = data.providers.get(provider_name, ProviderRules())
    sets = [provider.all]
    if reasoning:
        sets.append(provider.reasoning)
    if thinking:
        sets.append(provider.thinking)
    if model_id in data.models:
        sets.append(data.models[model_id])
    rejects: list[str] = []
    ignores: list[str] = [] if temperature is not False else list(SAMPLING)
    output_cap: Any = "max_tokens"
    for rule in sets:
        if effort in rule.except_effort:
            continue
        rejects += [f for f in rule.rejects if f not in rejects]
        ignores += [f for f in rule.ignores if f not in ignores]
        output_cap = rule.output_cap or output_cap
    if effort == "none":
        ignores = [f for f in ignores if f not in SAMPLING]  # at effort none, sampling applies again
    limits = (data.time_limits["thinking"] if thinking else
              data.time_limits["reasoning"] if _thinks(reasoning, effort) else None)
    return ParameterRules(rejects=rejects, ignores=[f for f in ignores if f not in rejects], output_cap=output_cap,
                          max_output_tokens=max_output_tokens, thinking_budget=thinking,
                          first_token_seconds=limits.first_token_seconds if limits else None,
                          between_tokens_seconds=limits.between_tokens_seconds if limits else None)


def thinks(model: CatalogModel) -> bool:
    """Whether the model reasons before it answers, as catalogued and at its variant's setting."""
    return _thinks(model.reasoning, model.settings.effort if model.settings is not None else None)


def _thinks(reasoning: bool, effort: str | None) -> bool:
    return reasoning and effort not in ("none", "minimal")
