"""A request's fields fitted to the model that answers it (catalog/parameters.py says what each model takes).

A field Mixcore chose (a mix default, a judge's temperature) that the model refuses or ignores is not sent;
a field the client sent that the model refuses makes the candidate unusable (`UnsupportedParameter`): a
direct call answers 400 naming the model and the field, a mix skips to its next candidate. Exactly one output
cap goes upstream, in the field the model honours, never above the model's output limit, with room for a
thinking budget inside that limit.
"""

from __future__ import annotations

import re
from typing import Any

from mixcore.catalog.models import ParameterRules
from mixcore.costs.pricing import OUTPUT_CAPS, output_cap
from mixcore.providers.errors import UnsupportedParameter

# Request fields a provider's 400 may name; one the client did not send was Mixcore's choice.
CHOSEN_FIELDS = ("temperature", "top_p", "top_k", "presence_penalty", "frequency_penalty", "max_tokens",
                 "max_completion_tokens", "reasoning_effort", "stop", "seed", "logprobs", "top_logprobs",
                 "logit_bias", "n")


def fit_parameters(params: dict[str, Any], rules: ParameterRules | None, client_fields: frozenset[str],
                   model_id: str) -> dict[str, Any]:
    """The fields to send this model; raises UnsupportedParameter for a client field it refuses."""
    if rules is None:  # not in the catalog: sent as asked, with one cap (the one the budget reserved)
        if all(params.get(name) is not None for name in OUTPUT_CAPS) and output_cap(params) is not None:
            return {k: v for k, v in params.items() if k != "max_tokens"}
        return params
    fitted = dict(params)
    for name in rules.rejects:
        if name in fitted and fitted[name] is not None:
            if name in client_fields:
                raise UnsupportedParameter(model_id, name)
            del fitted[name]
    for name in rules.ignores:
        if name in fitted and name not in client_fields:
            del fitted[name]
    cap = output_cap(fitted)
    for name in OUTPUT_CAPS:
        fitted.pop(name, None)
    if cap is not None:
        limit = rules.max_output_tokens
        if limit is not None:
            cap = min(cap, max(1, limit - (rules.thinking_budget or 0)))
        fitted[rules.output_cap] = cap
    return fitted


def names_mixcore_choice(message: str, client_fields: frozenset[str], sent: dict[str, Any]) -> bool:
    """Whether a provider's 400 names a field that was sent but that the client did not choose."""
    return any(name in sent and name not in client_fields and re.search(rf"\b{name}\b", message)
               for name in CHOSEN_FIELDS)


def with_output_cap(params: dict[str, Any], cap: int, rules: ParameterRules | None) -> dict[str, Any]:
    """The fields with exactly one output cap, `cap`, in the field the model honours."""
    capped = {k: v for k, v in params.items() if k not in OUTPUT_CAPS}
    capped[rules.output_cap if rules is not None else "max_tokens"] = cap
    return capped
