"""Cost summaries from the records in S3 (`mixcore costs`): totals that match the records."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

PREFIXES = ("records/", "failed/")


def read_records(s3: Any, bucket: str, files: dict[str, list[dict[str, Any]]] | None = None,
                 ) -> Iterator[dict[str, Any]]:
    """Every cost record under the delivery and fallback prefixes (GZIP or plain JSON lines). `files` (S3 key →
    its records) keeps what was read: delivered files never change, so a later call reads only new ones."""
    seen: set[str] = set()
    read = {} if files is None else files
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in PREFIXES:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"] not in read:
                    read[item["Key"]] = list(read_object(s3, bucket, item["Key"]))
                for record in read[item["Key"]]:
                    # A record retried into failed/ after a partial Firehose success is counted once.
                    if record["request_id"] not in seen:
                        seen.add(record["request_id"])
                        yield record


def read_object(s3: Any, bucket: str, key: str) -> Iterator[dict[str, Any]]:
    """The records of one delivered file (GZIP or plain JSON lines)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    for line in body.splitlines():
        if line.strip():
            yield json.loads(line)


def summarise(records: list[dict[str, Any]], by: str, since: str | None = None) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = defaultdict(lambda: {"requests": 0, "calls": 0, "prompt_tokens": 0,
                                                             "completion_tokens": 0, "cost_usd": 0.0})
    for record in records:
        if since and record["time"][:10] < since:
            continue
        if by == "model":
            for call in record["calls"]:
                row = groups[call["model"]]
                row["calls"] += 1
                row["prompt_tokens"] += call["prompt_tokens"]
                row["completion_tokens"] += call["completion_tokens"]
                row["cost_usd"] += call["cost_usd"] or 0.0
            continue
        key = {"day": record["time"][:10], "key": record.get("key_id") or "-",
               "mix": record.get("mix_id") or "(direct)"}[by]
        row = groups[key]
        row["requests"] += 1
        row["calls"] += len(record["calls"])
        row["prompt_tokens"] += record["prompt_tokens"]
        row["completion_tokens"] += record["completion_tokens"]
        row["cost_usd"] += record["cost_usd"]
    return [{by: key, **values} for key, values in sorted(groups.items())]
