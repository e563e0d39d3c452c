"""Process-wide settings, read once per cold start from the environment (MIXCORE_* variables).

A plain pydantic model filled from `os.environ`: pydantic-settings did the same for 38 ms of import
on every cold start (issue 16); pydantic's lax mode turns the strings into numbers as it did.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import ConfigDict, Field

from mixcore.model import Model

ENV_PREFIX = "MIXCORE_"


class Settings(Model):
    """Everything a Lambda or the local stack needs from its environment."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def from_environment(cls) -> Settings:
        """MIXCORE_<FIELD> variables (any case), as pydantic-settings read them; others are ignored."""
        return cls.model_validate({key[len(ENV_PREFIX):].lower(): value for key, value in os.environ.items()
                                   if key.upper().startswith(ENV_PREFIX)})

    table_name: str = "mixcore-table"  # the local stack's name; deployed functions get it from template.yaml
    cost_stream_name: str = ""
    cost_bucket_name: str = "mixcore-costbucket"  # the local stack's name; deployed functions get it from the template
    provider_secret_id: str = ""
    secret_max_age_seconds: int = 300
    upstream_timeout_seconds: float = 60.0
    upstream_connect_timeout_seconds: float = 5.0
    upstream_max_retries: int = 2
    retry_backoff_seconds: float = 0.25
    max_retry_after_seconds: float = 10.0
    # A 3-layer synthesis with real frontier models takes minutes; template.yaml sets the deployed value.
    request_budget_seconds: float = 600.0
    keepalive_seconds: float = 5.0  # SSE comment (or JSON whitespace) interval while no token flows
    # How long an answer may take to start before its status (200) is committed and keep-alives begin:
    # short for a stream (a chat UI wants bytes), long for JSON (so that most failures keep their status).
    stream_commit_seconds: float = 5.0
    json_commit_seconds: float = 30.0
    # A client that stops reading: once one write to it has waited this long, the request ends (its upstream calls
    # are closed and charged), instead of holding a provider stream and its memory to the request budget.
    client_write_timeout_seconds: float = 30.0
    attempt_timeout_seconds: float = 20.0
    # A reasoning or thinking model's first token may take minutes: catalog/data/parameter_rules.json says how long
    # (while a fallback waits behind it). This overrides the file for every such model (tests use seconds).
    thinking_attempt_timeout_seconds: float | None = None
    cooldown_seconds: float = 30.0
    cooldown_failures: int = 3
    # A model its provider says does not exist is set aside this long (retired models stop costing a call).
    model_not_found_cooldown_seconds: float = 6 * 3600.0
    cache_ttl_seconds: float = 60.0
    # A folder with the sources' saved files (leaderboards/<source>/…) that the scheduled indexer reads
    # instead of the network: offline runs (`mixcore invoke IndexerFunction`, tests). Empty on AWS.
    sources_mirror: str = ""
    # The REST API and stage whose authorizer cache `mixcore keys revoke` flushes (the stack's ApiId and ApiStage
    # outputs; the local stack's banner exports its own). Empty: a revoked key works until the cache expires.
    api_id: str = ""
    api_stage: str = "api"
    max_body_bytes: int = Field(default=1_000_000)
    max_messages: int = 1000
    max_tokens_cap: int = 65_536
    max_n: int = 8


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, parsed on first use (a cold start) and then reused."""
    return Settings.from_environment()
