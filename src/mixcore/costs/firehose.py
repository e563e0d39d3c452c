"""Cost records to Kinesis Data Firehose (→ S3, JSON lines, GZIP, dt= partitions), never lost, never waited on.

Records queue during a request and go out in PutRecordBatch calls after its last byte. Entries
Firehose reports as failed are retried; whatever still fails is written straight to the bucket
under `failed/dt=YYYY-MM-DD/`. All of that runs under one deadline (`FLUSH_DEADLINE_SECONDS`):
when Firehose or S3 hangs, the records still undelivered are logged whole at the deadline (the
delivery may still complete later; `mixcore costs` counts a request id once), so a hanging AWS
service adds at most about a second to a request and loses nothing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mixcore.costs.records import CostRecord
from mixcore.observability import logger

BATCH_LIMIT = 500
RETRIES = 2
FLUSH_DEADLINE_SECONDS = 1.0
# The request waits at most FLUSH_DEADLINE_SECONDS; the delivery itself may take longer in the background
# (a slow but working Firehose still delivers; the records were logged at the deadline all the same).
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1, read_timeout=3)


class FirehoseSink:
    def __init__(self, stream_name: str, bucket: str, firehose: Any | None = None, s3: Any | None = None,
                 deadline_seconds: float = FLUSH_DEADLINE_SECONDS) -> None:
        self.stream_name = stream_name
        self.bucket = bucket
        self.firehose = firehose or boto3.client("firehose", config=CLIENT_CONFIG)
        self.s3 = s3 or boto3.client("s3", config=CLIENT_CONFIG)
        self.deadline_seconds = deadline_seconds
        self._queue: list[CostRecord] = []
        self._lock = threading.Lock()

    def add(self, record: CostRecord) -> None:
        with self._lock:
            self._queue.append(record)

    def flush(self) -> dict[str, int]:
        with self._lock:
            queued, self._queue = self._queue, []
        if not queued:
            return {}
        counts: Counter[str] = Counter()
        undelivered = {r.request_id: r for r in queued}
        finished = threading.Event()

        def deliver() -> None:
            deadline = time.monotonic() + self.deadline_seconds
            for start in range(0, len(queued), BATCH_LIMIT):
                self._deliver(queued[start:start + BATCH_LIMIT], counts, undelivered, deadline)
            finished.set()

        threading.Thread(target=deliver, name="cost-delivery", daemon=True).start()
        if not finished.wait(self.deadline_seconds):
            late = list(undelivered.values())
            counts["lost_to_log"] += len(late)
            self._log_whole(late, "cost delivery missed its deadline")
        return dict(counts)

    def _deliver(self, records: list[CostRecord], counts: Counter[str], undelivered: dict[str, CostRecord],
                 deadline: float) -> None:
        pending = records
        for attempt in range(RETRIES + 1):
            try:
                answer = self.firehose.put_record_batch(
                    DeliveryStreamName=self.stream_name, Records=[{"Data": r.to_json_line()} for r in pending])
            except (BotoCoreError, ClientError) as error:
                logger.warning("firehose put failed", extra={"error": str(error), "records": len(pending)})
                failed = pending
            else:
                failed = [r for r, result in zip(pending, answer.get("RequestResponses", []), strict=False)
                          if result.get("ErrorCode")]
            for record in pending:
                if record not in failed:
                    undelivered.pop(record.request_id, None)
            counts["delivered"] += len(pending) - len(failed)
            pending = failed
            if not pending or time.monotonic() > deadline:
                break
            counts["retried"] += len(failed)
            time.sleep(0.05 * 2 ** attempt)
        if pending:
            self._fallback(pending, counts, undelivered)

    def _fallback(self, records: list[CostRecord], counts: Counter[str], undelivered: dict[str, CostRecord]) -> None:
        key = f"failed/dt={datetime.now(UTC):%Y-%m-%d}/{uuid.uuid4().hex}.jsonl"
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"".join(r.to_json_line() for r in records),
                               ContentType="application/x-ndjson")
        except (BotoCoreError, ClientError) as error:
            counts["lost_to_log"] += len(records)
            self._log_whole(records, f"cost records undeliverable: {error}")
        else:
            counts["fallback"] += len(records)
            logger.error("cost records written to the fallback prefix", extra={"key": key, "records": len(records)})
        for record in records:
            undelivered.pop(record.request_id, None)

    @staticmethod
    def _log_whole(records: list[CostRecord], reason: str) -> None:
        for record in records:
            logger.error("cost record undeliverable", extra={"reason": reason,
                                                             "record": json.loads(record.model_dump_json())})
