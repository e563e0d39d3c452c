"""DynamoDB single-table store.

Key schema (table `MIXCORE_TABLE_NAME`, partition key `pk`, sort key `sk`, TTL on `expires_at`):

| item                      | pk                              | sk                         |
|---------------------------|---------------------------------|----------------------------|
| client key                | `KEY`                           | SHA-256 of the key         |
| latest ranking            | `RANKING`                       | `<source>#<category>`      |
| ranking snapshot          | `RANKING#<source>#<category>`   | `<fetched_at>#<hash[:12]>` |
| mix definition            | `MIX`                           | mix id                     |
| usage counter             | `USAGE#<key_id>`                | `MONTH#YYYY-MM`/`MINUTE#…` |
| live catalog, overrides   | `CATALOG`                       | `STATE` / `OVERRIDES`      |
| catalog version (history) | `CATALOG#VERSION`               | version (`YYYYMMDD-hash`)  |
| last good price table     | `PRICES`                        | source                     |

Documents (rankings, mixes) are kept as one JSON string attribute `data`: one read, no Decimal
round-trips, and well under DynamoDB's 400 KB item limit for the largest leaderboard. A catalog
version and a price table also carry `body`, gzip JSON in a binary attribute (the 1,000-model
catalog is 840 KB as JSON, about 40 KB compressed).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from mixcore.auth.keys import ClientKey

_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=_BOTO_CONFIG)


class DynamoStore:
    """Implements KeyStore, RankingStore and MixStore on one table."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _put_doc(self, pk: str, sk: str, document: dict[str, Any], **extra: dict[str, Any]) -> None:
        item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}, "data": {"S": json.dumps(document)}, **extra}
        self.client.put_item(TableName=self.table, Item=item)

    def _query_docs(self, pk: str, *, limit: int | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": {"S": pk}},
                                  "ScanIndexForward": not newest_first}
        docs: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                kwargs["Limit"] = limit - len(docs)
            page = self.client.query(**kwargs)
            docs.extend(json.loads(item["data"]["S"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page or (limit is not None and len(docs) >= limit):
                return docs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _put_with_body(self, pk: str, sk: str, document: dict[str, Any], body: bytes) -> None:
        self._put_doc(pk, sk, document, body={"B": body})

    def _get_with_body(self, pk: str, sk: str) -> tuple[dict[str, Any], bytes] | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        return (json.loads(item["data"]["S"]), bytes(item["body"]["B"])) if item and "body" in item else None

    def _get_doc(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        return json.loads(item["data"]["S"]) if item else None

    # keys
    def put_key(self, key: ClientKey) -> None:
        self._put_doc("KEY", key.key_hash, key.model_dump())

    def get_key(self, key_hash: str) -> ClientKey | None:
        doc = self._get_doc("KEY", key_hash)
        return ClientKey.model_validate(doc) if doc else None

    def list_keys(self) -> list[ClientKey]:
        return [ClientKey.model_validate(d) for d in self._query_docs("KEY")]

    def revoke_key(self, key_id: str) -> bool:
        for key in self.list_keys():
            if key.key_id == key_id:
                key.revoked = True
                self.put_key(key)
                return True
        return False

    # rankings
    def get_latest(self, source: str, category: str) -> dict[str, Any] | None:
        return self._get_doc("RANKING", f"{source}#{category}")

    def put_ranking(self, ranking: dict[str, Any]) -> None:
        source, category = ranking["source"], ranking["category"]
        snapshot_key = f"{ranking['fetched_at']}#{ranking['content_hash'][:12]}"
        self._put_doc(f"RANKING#{source}#{category}", snapshot_key, ranking)
        self._put_doc("RANKING", f"{source}#{category}", ranking)

    def list_latest(self) -> list[dict[str, Any]]:
        return self._query_docs("RANKING")

    def history(self, source: str, category: str, limit: int) -> list[dict[str, Any]]:
        return self._query_docs(f"RANKING#{source}#{category}", limit=limit, newest_first=True)

    # mixes
    def list_mixes(self) -> list[dict[str, Any]]:
        return self._query_docs("MIX")

    def put_mix(self, mix: dict[str, Any]) -> None:
        self._put_doc("MIX", mix["id"], mix)

    # the live catalog
    def catalog_head(self) -> dict[str, Any]:
        """One query reads both the live version's summary and the operator's overrides."""
        items = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk",
                                  ExpressionAttributeValues={":pk": {"S": "CATALOG"}}).get("Items", [])
        found = {item["sk"]["S"]: json.loads(item["data"]["S"]) for item in items}
        return {"state": found.get("STATE"), "overrides": found.get("OVERRIDES")}

    def put_catalog_version(self, version: str, summary: dict[str, Any], body: bytes) -> None:
        self._put_with_body("CATALOG#VERSION", version, summary, body)

    def get_catalog_version(self, version: str) -> bytes | None:
        found = self._get_with_body("CATALOG#VERSION", version)
        return found[1] if found else None

    def catalog_history(self, limit: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": {"S": "CATALOG#VERSION"}},
                                  "ScanIndexForward": False, "Limit": limit, "ProjectionExpression": "#d",
                                  "ExpressionAttributeNames": {"#d": "data"}}
        return [json.loads(item["data"]["S"]) for item in self.client.query(**kwargs).get("Items", [])]

    def put_catalog_state(self, state: dict[str, Any]) -> None:
        self._put_doc("CATALOG", "STATE", state)

    def put_catalog_overrides(self, overrides: dict[str, Any]) -> None:
        self._put_doc("CATALOG", "OVERRIDES", overrides)

    def get_price_table(self, source: str) -> tuple[dict[str, Any], bytes] | None:
        return self._get_with_body("PRICES", source)

    def put_price_table(self, source: str, stamp: dict[str, Any], body: bytes) -> None:
        self._put_with_body("PRICES", source, stamp, body)

    # usage counters (budgets and rate limits)
    def add_usage(self, key_id: str, period: str, *, requests: int = 0, cost_usd: float = 0.0,
                  expires_at: int | None = None) -> dict[str, float]:
        """Atomically add to a key's counters for a period and return the new totals."""
        names = {"#r": "requests", "#c": "cost_usd"}
        values: dict[str, Any] = {":r": {"N": str(requests)}, ":c": {"N": _number(cost_usd)}}
        expression = "ADD #r :r, #c :c"
        if expires_at is not None:
            names["#e"] = "expires_at"
            values[":e"] = {"N": str(expires_at)}
            expression += " SET #e = :e"
        result = self.client.update_item(
            TableName=self.table, Key=self._usage_key(key_id, period), UpdateExpression=expression,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
        return _counters(result["Attributes"])

    @staticmethod
    def _usage_key(key_id: str, period: str) -> dict[str, Any]:
        return {"pk": {"S": f"USAGE#{key_id}"}, "sk": {"S": period}}

    def reserve_spend(self, key_id: str, period: str, amount_usd: float, budget_usd: float) -> tuple[bool, float]:
        """One conditional update: DynamoDB cannot add attributes in a condition, so the room is computed here."""
        if amount_usd > budget_usd:
            return False, self.add_usage(key_id, period).get("committed_usd", 0.0)
        try:
            result = self.client.update_item(
                TableName=self.table, Key=self._usage_key(key_id, period), UpdateExpression="ADD #m :a",
                ConditionExpression="attribute_not_exists(#m) OR #m <= :room",
                ExpressionAttributeNames={"#m": "committed_usd"},
                ExpressionAttributeValues={":a": {"N": _number(amount_usd)},
                                           ":room": {"N": _number(budget_usd - amount_usd)}},
                ReturnValues="ALL_NEW")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False, self.add_usage(key_id, period).get("committed_usd", 0.0)
        return True, _counters(result["Attributes"])["committed_usd"]

    def settle_spend(self, key_id: str, period: str, *, reserved_usd: float, cost_usd: float,
                     requests: int = 1) -> None:
        self.client.update_item(
            TableName=self.table, Key=self._usage_key(key_id, period), UpdateExpression="ADD #m :d, #c :c, #r :r",
            ExpressionAttributeNames={"#m": "committed_usd", "#c": "cost_usd", "#r": "requests"},
            ExpressionAttributeValues={":d": {"N": _number(cost_usd - reserved_usd)}, ":c": {"N": _number(cost_usd)},
                                       ":r": {"N": str(requests)}})


def _number(value: float) -> str:
    """A DynamoDB number: 12 decimals (a millionth of a micro-dollar) keep float noise out; no trailing zeros."""
    text = f"{round(value, 12):.12f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _counters(attributes: dict[str, Any]) -> dict[str, float]:
    return {name: float(attributes[name]["N"]) if name in attributes else 0.0
            for name in ("requests", "cost_usd", "committed_usd")}
