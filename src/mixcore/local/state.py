"""Local state that survives a restart of `make run`: the embedded AWS's tables and buckets, and the dev key.

moto keeps everything in memory. The local stack writes its tables' items and its buckets' objects to
a folder when it stops, and puts them back when it starts (unless `--fresh`), so keys, costs, mixes,
operator overrides and refreshed rankings outlive a restart. Secrets are not kept: the provider secret
is written anew at every start. The folder is local-only and git-ignored; the dev key is in it in
clear (mode 0600), as it is in the banner.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mixcore.local.aws import EmbeddedAws

AWS_FILE = "aws.json"
DEV_KEY_FILE = "dev-key"


@dataclass
class SavedState:
    """What a state folder held when it was restored."""

    items: int = 0
    objects: int = 0
    dev_key: str | None = None


def save_state(aws: EmbeddedAws, tables: list[str], buckets: list[str], folder: Path, dev_key: str) -> None:
    """Every item of the tables and object of the buckets, and the dev key, into the folder (replacing it)."""
    dynamodb, s3 = aws.client("dynamodb"), aws.client("s3")
    data: dict[str, Any] = {"tables": {}, "buckets": {}}
    for table in tables:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table)
        data["tables"][table] = [item for page in pages for item in page.get("Items", [])]
    for bucket in buckets:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        data["buckets"][bucket] = {
            o["Key"]: base64.b64encode(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()).decode()
            for page in pages for o in page.get("Contents", [])}
    folder.mkdir(parents=True, exist_ok=True)
    written = folder / f"{AWS_FILE}.tmp"
    written.write_text(json.dumps(data))
    written.replace(folder / AWS_FILE)  # a stop cut short leaves the previous state whole
    key_file = folder / DEV_KEY_FILE
    key_file.write_text(dev_key)
    os.chmod(key_file, 0o600)


def restore_state(aws: EmbeddedAws, folder: Path) -> SavedState:
    """Put a saved state back into freshly created tables and buckets; what it held (nothing without a save)."""
    restored = SavedState()
    key_file = folder / DEV_KEY_FILE
    if key_file.exists():
        restored.dev_key = key_file.read_text().strip() or None
    if not (folder / AWS_FILE).exists():
        return restored
    data = json.loads((folder / AWS_FILE).read_text())
    dynamodb, s3 = aws.client("dynamodb"), aws.client("s3")
    for table, items in data.get("tables", {}).items():
        for item in items:
            dynamodb.put_item(TableName=table, Item=item)
            restored.items += 1
    for bucket, objects in data.get("buckets", {}).items():
        for key, body in objects.items():
            s3.put_object(Bucket=bucket, Key=key, Body=base64.b64decode(body))
            restored.objects += 1
    return restored
