"""What every mix step works with: the providers it may call, and the state of one request.

`Upstream` bundles the warm container's provider configs, client, catalog and cool-downs;
`RequestContext` is one request's deadline and the calls and attempts it made; `Candidate` is
one model a fallback chain may try. They sit below chains, plans and the gateway, so that none
of those needs to import another to share them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mixcore.catalog import Catalog, CatalogModel
from mixcore.catalog.live import CatalogSource
from mixcore.catalog.models import ParameterRules, ReasoningSettings
from mixcore.catalog.parameters import parameter_rules
from mixcore.costs.limits import Spending
from mixcore.costs.records import CallLine, CostRecord
from mixcore.errors import ModelNotFound
from mixcore.mixes.cooldown import Cooldowns
from mixcore.providers.client import ChatClient
from mixcore.providers.config import ProviderConfig
from mixcore.settings import Settings


@dataclass
class Candidate:
    model_id: str
    provider: str
    api_model: str
    rank: int | None = None
    score: float | None = None
    name: str | None = None
    settings: ReasoningSettings | None = None  # a reasoning variant's, sent on every call
    base_id: str | None = None  # a reasoning variant's plain model: the same model, for diversity
    rules: ParameterRules | None = None  # what the model's API takes (None: not in the catalog, sent as asked)

    @classmethod
    def of(cls, model: CatalogModel, **ranked: Any) -> Candidate:
        return cls(model_id=model.id, provider=model.provider, api_model=model.api_model, settings=model.settings,
                   base_id=model.base_id, rules=parameter_rules(model), **ranked)

    @property
    def same_model(self) -> str:
        """The model behind the id: a reasoning variant and its base are one model."""
        return self.base_id or self.model_id

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"model": self.model_id}
        if self.settings is not None:
            described["settings"] = self.settings.model_dump(exclude_none=True)
        if self.rank is not None:
            described.update(rank=self.rank, score=self.score, name=self.name)
        return described


@dataclass
class RequestContext:
    """Per-request state: deadline, every upstream call, and the attempts of the answering chain."""

    request_id: str
    key_id: str | None
    deadline: float
    calls: list[CallLine] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    record: CostRecord | None = None  # the request's cost record, once it is written
    spending: Spending | None = None  # the key's budget, when it has one
    catalog_version: str | None = None  # the live catalog when the request began (what priced its calls)
    client_fields: frozenset[str] = frozenset()  # the request fields the client sent (the rest are Mixcore's)
    budget_notes: list[dict[str, Any]] = field(default_factory=list)  # output caps a budget lowered

    def may_not_call_unpriced(self) -> bool:
        return self.spending is not None and not self.spending.allow_unpriced

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    @contextlib.contextmanager
    def leaving(self, share: float) -> Iterator[None]:
        """Within the block the deadline comes early, leaving `share` of the time left for what follows."""
        full = self.deadline
        self.deadline = time.monotonic() + self.remaining() * (1 - share)
        try:
            yield
        finally:
            self.deadline = full


@dataclass
class Upstream:
    """The providers a request may reach, and how (one per warm container)."""

    settings: Settings
    providers: dict[str, ProviderConfig]
    client: ChatClient
    catalogs: CatalogSource
    cooldowns: Cooldowns

    @property
    def catalog(self) -> Catalog:
        """The catalog live now (it follows the indexer's refreshes within the cache window)."""
        return self.catalogs.current()

    def direct_candidate(self, model: str) -> Candidate:
        """A `provider/model` id as a candidate; 404 for a provider Mixcore does not know."""
        provider, sep, api_model = model.partition("/")
        if not sep or not api_model or provider not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise ModelNotFound(f"The model {model!r} does not exist. Use a mix id (see GET /v1/models) or "
                                f"'provider/model' with a provider among: {known}.", param="model")
        entry = self.catalog.get(model)
        if entry is not None:
            return Candidate.of(entry)
        return Candidate(model_id=model, provider=provider, api_model=api_model)
