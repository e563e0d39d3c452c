"""Pricing arithmetic on the real price data, Firehose delivery that loses nothing, budgets and rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from mixcore.catalog import get_catalog
from mixcore.catalog.models import Price
from mixcore.costs.firehose import CLIENT_CONFIG, FirehoseSink
from mixcore.costs.limits import Spending, check_before_call, month, usd
from mixcore.costs.pricing import call_cost, catalog_price
from mixcore.costs.records import CallLine, CostRecord
from mixcore.costs.report import read_records, summarise
from mixcore.errors import BudgetExceeded, RateLimited
from mixcore.providers.types import Usage
from mixcore.store.memory import MemoryStore
from tests.conftest import FIXTURES

MODELSDEV = json.loads((FIXTURES / "pricing" / "modelsdev_api_2026-04-04.json").read_text())


def test_cost_from_the_real_price_table_with_cached_tokens() -> None:
    cost = MODELSDEV["anthropic"]["models"]["claude-sonnet-4-5"]["cost"]
    assert (cost["input"], cost["output"], cost["cache_read"]) == (3, 15, 0.3)
    price, note = catalog_price(get_catalog().get("anthropic/claude-sonnet-4-5"))
    assert note is None
    usage = Usage(prompt_tokens=10_000, completion_tokens=2_000, cached_tokens=4_000)
    # 6,000 fresh input × $3 + 4,000 cached × $0.30 + 2,000 output × $15, per 1M tokens.
    assert call_cost(price, usage) == pytest.approx((6_000 * 3 + 4_000 * 0.3 + 2_000 * 15) / 1e6)


def test_cached_tokens_without_a_cache_price_cost_the_input_price() -> None:
    assert call_cost(Price(input=2.0, output=8.0), Usage(prompt_tokens=1000, cached_tokens=500,
                                                         completion_tokens=0)) == pytest.approx(0.002)


def test_unknown_price_is_none_with_a_reason_never_zero() -> None:
    price, note = catalog_price(get_catalog().get("local/not-in-catalog"))
    assert price is None and note == "model not in catalog"
    assert call_cost(None, Usage(prompt_tokens=5, completion_tokens=5)) is None


def record(request_id: str, cost: float, mix: str | None = None, key: str = "key_a") -> CostRecord:
    line = CallLine(provider="openai", model="openai/gpt-4o", prompt_tokens=10, completion_tokens=5, cost_usd=cost)
    return CostRecord(request_id=request_id, time="2026-11-22T10:00:00+00:00", key_id=key, mix_id=mix,
                      calls=[line]).finalise()


class FlakyFirehose:
    """Fails every entry whose position is in `fail`, `rounds` times; or raises outright."""

    def __init__(self, fail: set[int] | None = None, rounds: int = 1, outage: bool = False) -> None:
        self.fail, self.rounds, self.outage = fail or set(), rounds, outage
        self.batches: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        if self.outage:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://firehose.us-east-1.amazonaws.com")
        self.batches.append([r["Data"] for r in Records])
        failing = self.fail if len(self.batches) <= self.rounds else set()
        responses = [{"ErrorCode": "ServiceUnavailableException"} if i in failing else {"RecordId": str(i)}
                     for i in range(len(Records))]
        return {"FailedPutCount": sum(1 for r in responses if "ErrorCode" in r), "RequestResponses": responses}


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="costs-bucket")
        yield client


def test_failed_entries_are_retried_until_delivered(s3: Any) -> None:
    firehose = FlakyFirehose(fail={1, 3}, rounds=1)
    sink = FirehoseSink("stream", "costs-bucket", firehose=firehose, s3=s3)
    for i in range(5):
        sink.add(record(f"r{i}", 0.01))
    delivery = sink.flush()
    assert len(firehose.batches) == 2 and len(firehose.batches[1]) == 2
    assert delivery["delivered"] == 5
    assert "Contents" not in s3.list_objects_v2(Bucket="costs-bucket")


def test_a_firehose_outage_loses_no_record(s3: Any) -> None:
    sink = FirehoseSink("stream", "costs-bucket", firehose=FlakyFirehose(outage=True), s3=s3)
    for i in range(3):
        sink.add(record(f"r{i}", 0.25))
    delivery = sink.flush()
    assert delivery["fallback"] == 3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="costs-bucket")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("failed/dt=")
    stored = list(read_records(s3, "costs-bucket"))
    assert sorted(r["request_id"] for r in stored) == ["r0", "r1", "r2"]
    assert sum(r["cost_usd"] for r in stored) == pytest.approx(0.75)
    # Counts are per flush: once Firehose is back, the next request's flush reports no failure again.
    sink.firehose = FlakyFirehose()
    sink.add(record("r3", 0.25))
    assert sink.flush() == {"delivered": 1}


class HangingServer:
    """A TCP server on loopback that accepts connections and never answers (bounded: it closes them at stop)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.held.append(connection)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        for connection in self.held:
            connection.close()
        self.sock.close()


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.stop()


def test_a_hanging_firehose_and_s3_never_hold_the_flush_and_lose_no_record(
        hanging: HangingServer, caplog: pytest.LogCaptureFixture) -> None:
    # Given Firehose and S3 that accept connections and never answer
    clients = {name: boto3.client(name, endpoint_url=hanging.url, region_name="us-east-1",
                                  aws_access_key_id="x", aws_secret_access_key="x",
                                  config=CLIENT_CONFIG.merge(Config(read_timeout=30, connect_timeout=30)))
               for name in ("firehose", "s3")}
    sink = FirehoseSink("stream", "costs-bucket", firehose=clients["firehose"], s3=clients["s3"],
                        deadline_seconds=0.5)
    for i in range(3):
        sink.add(record(f"r{i}", 0.25))
    # When the sink flushes (the clients themselves would wait 30 s for an answer)
    delivery = sink.flush()
    # Then it returned while the services still hold the connection, and every record is in the log, whole
    assert hanging.held and not hanging.stopped.is_set()
    assert delivery == {"lost_to_log": 3}
    logged = [r.record for r in caplog.records if r.getMessage() == "cost record undeliverable"]  # type: ignore[attr-defined]
    assert sorted(entry["request_id"] for entry in logged) == ["r0", "r1", "r2"]


def test_summaries_add_up_to_the_records() -> None:
    records = [json.loads(record(f"r{i}", c, mix=m).model_dump_json())
               for i, (c, m) in enumerate([(0.1, "index/a"), (0.2, None), (0.3, "index/a")])]
    by_mix = {row["mix"]: row for row in summarise(records, "mix")}
    assert by_mix["index/a"]["cost_usd"] == pytest.approx(0.4) and by_mix["index/a"]["requests"] == 2
    assert by_mix["(direct)"]["cost_usd"] == pytest.approx(0.2)
    by_model = summarise(records, "model")
    assert by_model[0]["calls"] == 3 and by_model[0]["cost_usd"] == pytest.approx(0.6)


def test_rate_limit_and_budget() -> None:
    store = MemoryStore()
    for _ in range(3):
        check_before_call(store, "key_a", monthly_budget_usd=None, requests_per_minute=3)
    with pytest.raises(RateLimited):
        check_before_call(store, "key_a", monthly_budget_usd=None, requests_per_minute=3)
    check_before_call(store, "key_b", monthly_budget_usd=1.0, requests_per_minute=None)
    spending = Spending(store, "key_b", 1.0)
    assert asyncio.run(spending.try_reserve(0.9)) is None  # held
    assert store.add_usage("key_b", month())["committed_usd"] == 0.9
    spending.settle(1.0)  # the real cost may pass the estimate by rounding; the counter says what was spent
    with pytest.raises(BudgetExceeded) as over:
        check_before_call(store, "key_b", monthly_budget_usd=1.0, requests_per_minute=None)
    assert over.value.status == 402


def test_a_refused_reservation_names_the_money_without_rounding_it_away() -> None:
    store = MemoryStore()
    spending = Spending(store, "key_c", 0.0001)
    assert asyncio.run(spending.try_reserve(0.0005)) == 0.0  # refused, with nothing committed yet
    refused = spending.refusal(0.0005, 0.0, "a call to openai/gpt-4o")
    assert "$0.0001;" in refused.message and "up to $0.0005" in refused.message
    assert refused.to_body()["error"]["budget_usd"] == 0.0001
    assert (usd(0.0001), usd(12.5), usd(0), usd(1e-12)) == ("$0.0001", "$12.50", "$0", "$0.00000001")


def test_a_flush_sends_at_most_500_records_a_call_firehoses_limit(s3: Any) -> None:
    firehose = FlakyFirehose()
    sink = FirehoseSink("stream", "costs-bucket", firehose=firehose, s3=s3)
    for i in range(501):
        sink.add(record(f"r{i}", 0.0))
    assert sink.flush()["delivered"] == 501
    assert [len(batch) for batch in firehose.batches] == [500, 1]


class SlowAfterFirstFirehose(FlakyFirehose):
    """Fails the entry at position 1 once, then takes longer than the flush may wait."""

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        if self.batches:
            time.sleep(0.6)
        return super().put_record_batch(DeliveryStreamName, Records)


def test_at_the_deadline_exactly_the_records_not_yet_delivered_are_logged_whole(
        s3: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Given r0 and r2 delivered, r1 refused, and its retry still running when the flush's 0.3 s are up
    sink = FirehoseSink("stream", "costs-bucket", firehose=SlowAfterFirstFirehose(fail={1}), s3=s3,
                        deadline_seconds=0.3)
    for i in range(3):
        sink.add(record(f"r{i}", 0.01))
    delivery = sink.flush()
    # Then only r1 is logged whole (nothing delivered is logged again, nothing undelivered is lost)
    logged = [r.record for r in caplog.records if r.getMessage() == "cost record undeliverable"]  # type: ignore[attr-defined]
    assert delivery.get("lost_to_log") == 1
    assert [entry["request_id"] for entry in logged] == ["r1"]


@contextlib.contextmanager
def loopback_firehose(status: int, body: bytes, delay_seconds: float = 0.0,
                      config: Config = CLIENT_CONFIG) -> Iterator[tuple[Any, list[str]]]:
    """A boto3 Firehose client (with `config`) on a loopback server that answers every call with `status` and
    `body` after `delay_seconds`; the paths it was sent, one per attempt."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    attempts: list[str] = []

    class Answering(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            attempts.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay_seconds)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield boto3.client("firehose", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
                           region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                           config=config), attempts
    finally:
        server.shutdown()
        server.server_close()


def test_the_delivery_client_retries_each_call_twice_at_most() -> None:
    # A Firehose that answers every call with a 500 at once: botocore, as configured (retries max_attempts 2, which
    # botocore counts after the first try), sends one put_record_batch three times, no more (the sink's own
    # retries come on top, within its deadline)
    refusal = b'{"__type": "ServiceUnavailableException", "message": "down"}'
    with loopback_firehose(500, refusal) as (client, attempts), pytest.raises(ClientError):
        client.put_record_batch(DeliveryStreamName="s", Records=[{"Data": b"{}"}])
    assert len(attempts) == 1 + 2


def test_the_delivery_client_gives_up_on_an_answer_slower_than_its_read_timeout() -> None:
    # A Firehose that answers after 3.5 s: past the client's 3 s read timeout (one try here, not three)
    from botocore.exceptions import ReadTimeoutError

    answer = b'{"FailedPutCount": 0, "RequestResponses": [{"RecordId": "1"}]}'
    one_try = CLIENT_CONFIG.merge(Config(retries={"total_max_attempts": 1}))
    with loopback_firehose(200, answer, delay_seconds=3.5, config=one_try) as (client, _), \
            pytest.raises(ReadTimeoutError):
        client.put_record_batch(DeliveryStreamName="s", Records=[{"Data": b"{}"}])
