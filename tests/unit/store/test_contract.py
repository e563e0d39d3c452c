"""The Store contract: the same cases against the in-memory store and DynamoStore on moto.

DynamoStore's table is created from template.yaml's own definition, so the key schema tested is
the one deployed.
"""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mixcore.auth.keys import new_key
from mixcore.local.aws import EmbeddedAws
from mixcore.local.template import Template
from mixcore.store.base import Store
from mixcore.store.dynamodb import DynamoStore
from mixcore.store.memory import MemoryStore
from tests.conftest import REPO
from tests.integration.conftest import free_port


@pytest.fixture(scope="module")
def embedded_aws() -> Iterator[EmbeddedAws]:
    """The local stack's AWS (moto's server, DynamoDB writes atomic as in the real service)."""
    aws = EmbeddedAws(free_port()).start()
    yield aws
    aws.stop()


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    aws: EmbeddedAws = request.getfixturevalue("embedded_aws")
    table = Template.load(REPO / "template.yaml").resources()["Table"]["Properties"]
    client = aws.client("dynamodb")
    name = f"contract-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=name, AttributeDefinitions=table["AttributeDefinitions"],
                        KeySchema=table["KeySchema"], BillingMode="PAY_PER_REQUEST")
    yield DynamoStore(name, client)
    client.delete_table(TableName=name)


def ranking(category: str, fetched_at: str, top: str) -> dict[str, Any]:
    return {"source": "lmsys", "category": category, "fetched_at": fetched_at, "content_hash": f"h-{top}-{fetched_at}",
            "entries": [{"rank": 1, "name": top, "score": 1500.0}]}


def test_keys_are_found_by_hash_listed_and_revoked(store: Store) -> None:
    _, alice = new_key("alice", monthly_budget_usd=5.0)
    _, bob = new_key("bob", requests_per_minute=10)
    store.put_key(alice)
    store.put_key(bob)
    found = store.get_key(alice.key_hash)
    assert found is not None and found.key_id == alice.key_id and found.monthly_budget_usd == 5.0
    assert store.get_key("0" * 64) is None
    assert sorted(k.name for k in store.list_keys()) == ["alice", "bob"]
    assert store.revoke_key(bob.key_id) is True
    assert store.revoke_key("key_nobody") is False
    revoked = store.get_key(bob.key_hash)
    assert revoked is not None and revoked.revoked


def test_latest_ranking_and_history_newest_first(store: Store) -> None:
    store.put_ranking(ranking("coding", "2026-11-01T00:00:00+00:00", "model-a"))
    store.put_ranking(ranking("coding", "2026-11-02T00:00:00+00:00", "model-b"))
    store.put_ranking(ranking("math", "2026-11-01T00:00:00+00:00", "model-c"))
    latest = store.get_latest("lmsys", "coding")
    assert latest is not None and latest["entries"][0]["name"] == "model-b"
    assert store.get_latest("lmsys", "nothing") is None
    assert [r["category"] for r in store.list_latest()] == ["coding", "math"]
    assert [h["entries"][0]["name"] for h in store.history("lmsys", "coding", 5)] == ["model-b", "model-a"]
    assert len(store.history("lmsys", "coding", 1)) == 1


def test_a_returned_document_is_a_copy(store: Store) -> None:
    store.put_ranking(ranking("coding", "2026-11-01T00:00:00+00:00", "model-a"))
    first = store.get_latest("lmsys", "coding")
    assert first is not None
    first["entries"].clear()
    again = store.get_latest("lmsys", "coding")
    assert again is not None and again["entries"][0]["name"] == "model-a"


def test_mixes_are_replaced_by_id(store: Store) -> None:
    store.put_mix({"id": "index/x", "kind": "index", "source": "lmsys", "category": "coding"})
    store.put_mix({"id": "index/x", "kind": "index", "source": "lmsys", "category": "math"})
    store.put_mix({"id": "index/a", "kind": "index", "source": "seal", "category": "coding"})
    assert [(m["id"], m["category"]) for m in store.list_mixes()] == [("index/a", "coding"), ("index/x", "math")]


def test_usage_counters_add_up_atomically_per_key_and_period(store: Store) -> None:
    # 40 concurrent additions of 1 request and $0.25 each: nothing lost (0.25 is exact in binary).
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: store.add_usage("key_a", "MONTH#2026-11", requests=1, cost_usd=0.25), range(40)))
    totals = store.add_usage("key_a", "MONTH#2026-11")
    assert totals == {"requests": 40.0, "cost_usd": 10.0, "committed_usd": 0.0}
    assert store.add_usage("key_b", "MONTH#2026-11", cost_usd=1.5)["cost_usd"] == 1.5
    assert store.add_usage("key_a", "MINUTE#1", requests=1, expires_at=120)["requests"] == 1.0


def test_reservations_never_commit_more_than_the_budget_under_concurrency(store: Store) -> None:
    # 30 concurrent reservations of $0.30 against a $1.00 budget: exactly three fit (0.9 ≤ 1.0 < 1.2).
    with ThreadPoolExecutor(max_workers=10) as pool:
        granted = list(pool.map(lambda _: store.reserve_spend("key_a", "MONTH#2026-11", 0.3, 1.0)[0], range(30)))
    assert granted.count(True) == 3
    assert store.add_usage("key_a", "MONTH#2026-11")["committed_usd"] == pytest.approx(0.9)
    # A call bigger than the whole budget is refused even on a fresh counter.
    assert store.reserve_spend("key_b", "MONTH#2026-11", 1.5, 1.0) == (False, 0.0)


def test_settling_swaps_the_reservation_for_the_real_cost(store: Store) -> None:
    assert store.reserve_spend("key_a", "MONTH#2026-11", 0.5, 1.0) == (True, 0.5)
    store.settle_spend("key_a", "MONTH#2026-11", reserved_usd=0.5, cost_usd=0.125)
    totals = store.add_usage("key_a", "MONTH#2026-11")
    assert totals == {"requests": 1.0, "cost_usd": 0.125, "committed_usd": 0.125}
    # Room is what the budget leaves after the committed money: 1.0 - 0.125 = 0.875 fits, 0.876 does not.
    assert store.reserve_spend("key_a", "MONTH#2026-11", 0.876, 1.0)[0] is False
    assert store.reserve_spend("key_a", "MONTH#2026-11", 0.875, 1.0) == (True, 1.0)


def test_a_held_reservation_settles_exactly_once_however_often_it_is_retried(store: Store) -> None:
    month = "MONTH#2026-11"
    for _ in range(2):  # two calls of one request: $0.5 held on its hold
        assert store.reserve_spend("key_a", month, 0.25, 1.0, hold="req-1", hold_until=2_000)[0] is True
    assert store.settle_spend("key_a", month, reserved_usd=0.5, cost_usd=0.125, hold="req-1", now=1_000) is True
    for _ in range(4):  # boto retrying a write whose answer was lost
        assert store.settle_spend("key_a", month, reserved_usd=0.5, cost_usd=0.125, hold="req-1", now=1_001) is False
    assert store.add_usage("key_a", month) == {"requests": 1.0, "cost_usd": 0.125, "committed_usd": 0.125}
    # A settled hold is never released again, whatever its time.
    assert store.release_expired_holds("key_a", month, now=9_999) == 0.0
    assert store.add_usage("key_a", month)["committed_usd"] == pytest.approx(0.125)


def test_a_hold_never_settled_is_given_back_after_its_time_and_a_late_settle_adds_only_the_cost(store: Store) -> None:
    month = "MONTH#2026-11"
    assert store.reserve_spend("key_a", month, 0.75, 1.0, hold="crashed", hold_until=2_000)[0] is True
    assert store.reserve_spend("key_a", month, 0.5, 1.0, hold="next", hold_until=2_000)[0] is False
    assert store.release_expired_holds("key_a", month, now=1_999) == 0.0  # not yet: its request may still run
    assert store.release_expired_holds("key_a", month, now=2_001) == pytest.approx(0.75)
    assert store.release_expired_holds("key_a", month, now=2_002) == 0.0  # once
    assert store.add_usage("key_a", month)["committed_usd"] == pytest.approx(0.0)
    # Its settle, if it ever comes, counts what was spent without giving the hold back twice.
    assert store.settle_spend("key_a", month, reserved_usd=0.75, cost_usd=0.25, hold="crashed", now=2_003) is True
    assert store.add_usage("key_a", month) == {"requests": 1.0, "cost_usd": 0.25, "committed_usd": 0.25}


def test_a_request_that_reserved_nothing_still_settles_once(store: Store) -> None:
    month = "MONTH#2026-11"
    assert store.settle_spend("key_a", month, reserved_usd=0.0, cost_usd=0.0, hold="free", now=1) is True
    assert store.settle_spend("key_a", month, reserved_usd=0.0, cost_usd=0.0, hold="free", now=2) is False
    assert store.add_usage("key_a", month)["requests"] == 1.0


def test_a_keys_routing_table_is_stored_per_router(store: Store) -> None:
    assert store.get_route_table("key_a", "length") is None
    table = {"quantiles": [float(i) for i in range(101)], "prompts": 40, "fitted_at": "2026-12-03T00:00:00Z"}
    store.put_route_table("key_a", "length", table)
    assert store.get_route_table("key_a", "length") == table
    assert store.get_route_table("key_a", "ngram") is None and store.get_route_table("key_b", "length") is None


def test_catalog_versions_state_overrides_and_price_tables(store: Store) -> None:
    assert store.catalog_head() == {"state": None, "overrides": None}
    body = gzip.compress(b'{"models": []}' * 2000)  # binary, as the catalog's gzip JSON is
    store.put_catalog_version("20261101T000000-aaaa", {"version": "20261101T000000-aaaa"}, body)
    store.put_catalog_version("20261102T000000-bbbb", {"version": "20261102T000000-bbbb"}, b"\x00\x01")
    store.put_catalog_state({"version": "20261102T000000-bbbb"})
    store.put_catalog_overrides({"aliases": {"x": "openai/gpt-4o"}})
    assert store.catalog_head() == {"state": {"version": "20261102T000000-bbbb"},
                                    "overrides": {"aliases": {"x": "openai/gpt-4o"}}}
    assert store.get_catalog_version("20261101T000000-aaaa") == body
    assert store.get_catalog_version("missing") is None
    assert [v["version"] for v in store.catalog_history(5)] == ["20261102T000000-bbbb", "20261101T000000-aaaa"]
    assert [v["version"] for v in store.catalog_history(1)] == ["20261102T000000-bbbb"]
    assert store.get_price_table("litellm") is None
    store.put_price_table("litellm", {"models": 3}, b"\x1f\x8b")
    assert store.get_price_table("litellm") == ({"models": 3}, b"\x1f\x8b")
