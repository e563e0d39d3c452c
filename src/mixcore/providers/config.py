"""Which providers exist, where they live, and the keys Mixcore uses to call them.

Providers are data (catalog/data/providers.json). A provider's base URL and key come from
`MIXCORE_PROVIDER_<NAME>_BASE_URL` / `MIXCORE_PROVIDER_<NAME>_API_KEY` when set, else from the
defaults and the Secrets Manager secret named by `MIXCORE_PROVIDER_SECRET_ID` (a JSON object
`{"OPENAI": "sk-...", ...}`, read through Powertools Parameters with caching). Any other
`MIXCORE_PROVIDER_<NAME>_BASE_URL` adds an OpenAI-compatible provider (vLLM, Ollama, llama.cpp).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

from mixcore.model import Model
from mixcore.settings import get_settings

Protocol = Literal["openai", "anthropic"]
_ENV_PATTERN = re.compile(r"^MIXCORE_PROVIDER_([A-Z0-9_]+?)_(BASE_URL|API_KEY|PROTOCOL)$")


class ProviderDefinition(Model):
    name: str
    protocol: Protocol = "openai"
    base_url: str
    display_name: str = ""


class ProviderFile(Model):
    schema_version: int
    providers: list[ProviderDefinition]


@dataclass(frozen=True)
class ProviderConfig:
    """A provider ready to call. `api_key` is a secret: it is never logged or returned."""

    name: str
    protocol: Protocol
    base_url: str
    api_key: str = field(default="", repr=False)
    configured: bool = False
    source: str = "default"

    def public(self) -> dict[str, object]:
        return {"name": self.name, "protocol": self.protocol, "base_url": self.base_url,
                "configured": self.configured, "source": self.source}


@lru_cache(maxsize=1)
def provider_definitions() -> dict[str, ProviderDefinition]:
    text = resources.files("mixcore.catalog").joinpath("data/providers.json").read_text()
    parsed = ProviderFile.model_validate_json(text)
    return {p.name: p for p in parsed.providers}


def _secret_keys() -> Mapping[str, str]:
    secret_id = get_settings().provider_secret_id
    if not secret_id:
        return {}
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, transform="json", max_age=get_settings().secret_max_age_seconds)
    if not isinstance(value, dict):
        return {}
    return {str(k).upper(): str(v) for k, v in value.items() if v}


def load_providers(environ: Mapping[str, str] | None = None) -> dict[str, ProviderConfig]:
    """Every known provider with its effective base URL, key and whether it can be called."""
    env = os.environ if environ is None else environ
    overrides: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        match = _ENV_PATTERN.match(key)
        if match and value:
            overrides.setdefault(match.group(1).lower(), {})[match.group(2)] = value
    secrets = _secret_keys()

    configs: dict[str, ProviderConfig] = {}
    names = list(provider_definitions()) + [n for n in overrides if n not in provider_definitions()]
    for name in names:
        definition = provider_definitions().get(name)
        override = overrides.get(name, {})
        base_url = override.get("BASE_URL") or (definition.base_url if definition else "")
        if not base_url:
            continue
        protocol: Protocol = "anthropic" if override.get("PROTOCOL") == "anthropic" else (
            definition.protocol if definition else "openai")
        api_key = override.get("API_KEY") or secrets.get(name.upper(), "")
        # A keyless endpoint is callable only when its base URL was set on purpose (local vLLM/Ollama).
        configured = bool(api_key) or "BASE_URL" in override
        source = "env" if override else ("secret" if api_key else "default")
        configs[name] = ProviderConfig(name=name, protocol=protocol, base_url=base_url.rstrip("/"),
                                       api_key=api_key, configured=configured, source=source)
    return configs


def provider_env_names(name: str) -> tuple[str, str]:
    upper = name.upper()
    return f"MIXCORE_PROVIDER_{upper}_BASE_URL", f"MIXCORE_PROVIDER_{upper}_API_KEY"
