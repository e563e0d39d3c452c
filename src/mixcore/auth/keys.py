"""Client API keys: generation, hashing and verification. A key is shown once and never stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

from mixcore.model import Model

KEY_PREFIX = "mx-"


class ClientKey(Model):
    """What is stored about a key: its hash, never the key."""

    key_id: str
    key_hash: str
    name: str
    created_at: str
    revoked: bool = False
    monthly_budget_usd: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    requests_per_minute: Annotated[int, Field(ge=1)] | None = None
    # A budget counts money by the catalog's prices; a model without one is refused unless allowed here.
    allow_unpriced: bool = False

    def public(self) -> dict[str, object]:
        return self.model_dump(exclude={"key_hash"})


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_for(key_hash: str) -> str:
    return "key_" + key_hash[:12]


def new_key(name: str, *, monthly_budget_usd: float | None = None,
            requests_per_minute: int | None = None, allow_unpriced: bool = False) -> tuple[str, ClientKey]:
    """A fresh secret key and the record to store for it."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_hash = hash_key(key)
    record = ClientKey(key_id=key_id_for(key_hash), key_hash=key_hash, name=name,
                       created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                       monthly_budget_usd=monthly_budget_usd, requests_per_minute=requests_per_minute,
                       allow_unpriced=allow_unpriced)
    return key, record


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def verify(presented: str, record: ClientKey) -> bool:
    """Constant-time comparison of the presented key's hash with the stored one."""
    return hmac.compare_digest(hash_key(presented), record.key_hash) and not record.revoked
