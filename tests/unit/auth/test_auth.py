"""Client keys (hash, verify, bearer parsing) and the caller the authorizer's context describes."""

from __future__ import annotations

import hashlib

import pytest

from mixcore.auth.caller import Caller, caller_from_authorizer
from mixcore.auth.keys import bearer_token, hash_key, new_key, verify
from mixcore.errors import AuthenticationFailed


def test_a_new_key_is_stored_only_as_its_sha256() -> None:
    key, record = new_key("ci", monthly_budget_usd=2.5, requests_per_minute=30)
    assert key.startswith("mx-") and len(key) > 40
    assert record.key_hash == hashlib.sha256(key.encode()).hexdigest() == hash_key(key)
    assert record.key_id == "key_" + record.key_hash[:12]
    assert key not in record.model_dump_json()
    assert "key_hash" not in record.public()


def test_verify_accepts_the_key_and_refuses_another_or_a_revoked_one() -> None:
    key, record = new_key("ci")
    assert verify(key, record)
    assert not verify(key + "x", record)
    record.revoked = True
    assert not verify(key, record)


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer mx-abc", "mx-abc"), ("bearer   mx-abc  ", "mx-abc"), ("Basic mx-abc", None), ("Bearer", None),
    ("", None), (None, None),
])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_the_caller_from_api_gateway_context_strings() -> None:
    # API Gateway passes an authorizer's context values as strings.
    caller = caller_from_authorizer({"key_id": "key_1", "budget_usd": "2.5", "rpm": "30", "principalId": "key_1"})
    assert caller == Caller(key_id="key_1", budget_usd=2.5, requests_per_minute=30)
    assert caller.limited
    assert not caller_from_authorizer({"key_id": "key_2"}).limited


@pytest.mark.parametrize("context", [{}, {"key_id": ""}, {"reason": "This API key has been revoked."}])
def test_no_key_in_the_context_is_401(context: dict[str, str]) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        caller_from_authorizer(context)
    assert refused.value.status == 401 and refused.value.code == "invalid_api_key"
    if "reason" in context:
        assert refused.value.message == context["reason"]
