"""Cost records to Kinesis Data Firehose (→ S3, JSON lines, GZIP, dt= partitions), never lost.

Records queue during an invocation and go out in PutRecordBatch calls at its end. Entries
Firehose reports as failed are retried; whatever still fails is written straight to the bucket
under `failed/dt=YYYY-MM-DD/`, and counted. If even that fails, the record is logged whole.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mixcore.costs.records import CostRecord

logger = logging.getLogger(__name__)
BATCH_LIMIT = 500
RETRIES = 2
# Short timeouts: cost delivery must never hold a response for long.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1, read_timeout=3)


class FirehoseSink:
    def __init__(self, stream_name: str, bucket: str, firehose: Any | None = None, s3: Any | None = None) -> None:
        self.stream_name = stream_name
        self.bucket = bucket
        self.firehose = firehose or boto3.client("firehose", config=_CONFIG)
        self.s3 = s3 or boto3.client("s3", config=_CONFIG)
        self._queue: list[CostRecord] = []
        self._lock = threading.Lock()
        self.stats = {"delivered": 0, "retried": 0, "fallback": 0, "lost_to_log": 0}

    def add(self, record: CostRecord) -> None:
        with self._lock:
            self._queue.append(record)

    def flush(self) -> None:
        with self._lock:
            queued, self._queue = self._queue, []
        for start in range(0, len(queued), BATCH_LIMIT):
            self._deliver(queued[start:start + BATCH_LIMIT])

    def _deliver(self, records: list[CostRecord]) -> None:
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
            self.stats["delivered"] += len(pending) - len(failed)
            if not failed:
                return
            pending = failed
            if attempt < RETRIES:
                self.stats["retried"] += len(failed)
                time.sleep(0.05 * 2 ** attempt)
        self._fallback(pending)

    def _fallback(self, records: list[CostRecord]) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        key = f"failed/dt={day}/{uuid.uuid4().hex}.jsonl"
        body = b"".join(r.to_json_line() for r in records)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
            self.stats["fallback"] += len(records)
            logger.error("cost records written to the fallback prefix", extra={"key": key, "records": len(records)})
        except (BotoCoreError, ClientError) as error:
            self.stats["lost_to_log"] += len(records)
            for record in records:
                logger.error("cost record undeliverable", extra={"error": str(error),
                                                                 "record": json.loads(record.model_dump_json())})
