"""DynamoDB single-table store.

Key schema (table `MIXCORE_TABLE_NAME`, partition key `pk`, sort key `sk`, TTL on `expires_at`):

| item                      | pk                              | sk                         |
|---------------------------|---------------------------------|----------------------------|
| client key                | `KEY`                           | SHA-256 of the key         |
| latest ranking            | `RANKING`                       | `<source>#<category>`      |
| ranking snapshot          | `RANKING#<source>#<category>`   | `<fetched_at>#<hash[:12]>` |
| mix definition            | `MIX`                           | mix id                     |
| a key's routing quantiles | `ROUTE`                         | `<key_id>#<router>`        |
| usage counter             | `USAGE#<key_id>`                | `MONTH#YYYY-MM`/`MINUTE#…` |
| a request's hold on it    | `USAGE#<key_id>`                | `HOLD#MONTH#YYYY-MM#<id>`  |
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
import uuid
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from mixcore.auth.keys import ClientKey

# A request's hold item stays this long after it ends or expires (DynamoDB's TTL then deletes it): long past
# any retry of its settle, and past a month's end for a hold nobody released.
HOLD_KEPT_SECONDS = 35 * 24 * 3600
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

    # a key's own routing thresholds (`mixcore route calibrate`)
    def put_route_table(self, key_id: str, router: str, table: dict[str, Any]) -> None:
        self._put_doc("ROUTE", f"{key_id}#{router}", table)

    def get_route_table(self, key_id: str, router: str) -> dict[str, Any] | None:
        return self._get_doc("ROUTE", f"{key_id}#{router}")

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

    def reserve_spend(self, key_id: str, period: str, amount_usd: float, budget_usd: float, *,
                      hold: str | None = None, hold_until: int = 0) -> tuple[bool, float | None]:
        """One conditional update (in one transaction with the request's hold item when `hold` names it):
        DynamoDB cannot add attributes in a condition, so the room is computed here."""
        if amount_usd > budget_usd:
            return False, self.add_usage(key_id, period).get("committed_usd", 0.0)
        names = {"#m": "committed_usd"}
        values = {":a": {"N": _number(amount_usd)}, ":room": {"N": _number(budget_usd - amount_usd)}}
        update: dict[str, Any] = {"TableName": self.table, "Key": self._usage_key(key_id, period),
                                  "UpdateExpression": "ADD #m :a",
                                  "ConditionExpression": "attribute_not_exists(#m) OR #m <= :room",
                                  "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        try:
            if hold is None:
                result = self.client.update_item(**update, ReturnValues="ALL_NEW")
                return True, _counters(result["Attributes"])["committed_usd"]
            # The token makes a retried transaction (boto's, after a lost answer) apply once.
            self.client.transact_write_items(ClientRequestToken=str(uuid.uuid4()), TransactItems=[
                {"Update": update},
                {"Update": {"TableName": self.table, "Key": self._hold_key(key_id, period, hold),
                            "UpdateExpression": "ADD #h :a SET #u = :u, #e = :e",
                            "ExpressionAttributeNames": {"#h": "held_usd", "#u": "hold_until", "#e": "expires_at"},
                            "ExpressionAttributeValues": {":a": values[":a"], ":u": {"N": str(hold_until)},
                                                          ":e": {"N": str(hold_until + HOLD_KEPT_SECONDS)}}}}])
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return False, self.add_usage(key_id, period).get("committed_usd", 0.0)
        return True, None  # a transaction returns no attributes: reading them back would cost a request per call

    @staticmethod
    def _hold_key(key_id: str, period: str, hold: str) -> dict[str, Any]:
        return {"pk": {"S": f"USAGE#{key_id}"}, "sk": {"S": f"HOLD#{period}#{hold}"}}

    def settle_spend(self, key_id: str, period: str, *, reserved_usd: float, cost_usd: float,
                     requests: int = 1, hold: str | None = None, now: int = 0) -> bool:
        month_update: dict[str, Any] = {
            "TableName": self.table, "Key": self._usage_key(key_id, period),
            "UpdateExpression": "ADD #m :d, #c :c, #r :r",
            "ExpressionAttributeNames": {"#m": "committed_usd", "#c": "cost_usd", "#r": "requests"},
            "ExpressionAttributeValues": {":d": {"N": _number(cost_usd - reserved_usd)}, ":c": {"N": _number(cost_usd)},
                                          ":r": {"N": str(requests)}}}
        if hold is None:
            self.client.update_item(**month_update)
            return True
        # The hold is marked settled in the same transaction: a retry (boto's or ours) finds it settled and
        # changes nothing. A hold already released (it outlived its time) gave its money back: the cost alone
        # is added then.
        mark = {"TableName": self.table, "Key": self._hold_key(key_id, period, hold),
                "UpdateExpression": "SET #s = :now, #e = :keep",
                "ExpressionAttributeNames": {"#s": "settled_at", "#e": "expires_at", "#x": "released_at"},
                "ExpressionAttributeValues": {":now": {"N": str(now)}, ":keep": {"N": str(now + HOLD_KEPT_SECONDS)}}}
        for released, committed in (("attribute_not_exists(#x)", cost_usd - reserved_usd),
                                    ("attribute_exists(#x)", cost_usd)):
            month_update["ExpressionAttributeValues"][":d"] = {"N": _number(committed)}
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": {**mark, "ConditionExpression": f"attribute_not_exists(#s) AND {released}"}},
                    {"Update": month_update}])
                return True
            except ClientError as error:
                if not _condition_failed(error):
                    raise
        return False

    def release_expired_holds(self, key_id: str, period: str, now: int) -> float:
        found = self.client.query(
            TableName=self.table, KeyConditionExpression="pk = :pk AND begins_with(sk, :hold)",
            FilterExpression="#u < :now AND attribute_not_exists(#s) AND attribute_not_exists(#x)",
            ExpressionAttributeNames={"#u": "hold_until", "#s": "settled_at", "#x": "released_at"},
            ExpressionAttributeValues={":pk": {"S": f"USAGE#{key_id}"}, ":hold": {"S": f"HOLD#{period}#"},
                                       ":now": {"N": str(now)}})
        released = 0.0
        for item in found.get("Items", []):
            held = float(item.get("held_usd", {}).get("N", "0"))
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": self.table, "Key": {"pk": item["pk"], "sk": item["sk"]},
                                "UpdateExpression": "SET #x = :now",
                                "ConditionExpression": "attribute_not_exists(#s) AND attribute_not_exists(#x)",
                                "ExpressionAttributeNames": {"#s": "settled_at", "#x": "released_at"},
                                "ExpressionAttributeValues": {":now": {"N": str(now)}}}},
                    {"Update": {"TableName": self.table, "Key": self._usage_key(key_id, period),
                                "UpdateExpression": "ADD #m :d", "ExpressionAttributeNames": {"#m": "committed_usd"},
                                "ExpressionAttributeValues": {":d": {"N": _number(-held)}}}}])
            except ClientError as error:
                if not _condition_failed(error):
                    raise
                continue  # settled or released meanwhile
            released += held
        return released


def _condition_failed(error: ClientError) -> bool:
    """A conditional write refused (alone, or as part of a cancelled transaction)."""
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    reasons = error.response.get("CancellationReasons") or []
    return code == "TransactionCanceledException" and any(
        r.get("Code") == "ConditionalCheckFailed" for r in reasons)


def _number(value: float) -> str:
    """A DynamoDB number: 12 decimals (a millionth of a micro-dollar) keep float noise out; no trailing zeros."""
    text = f"{round(value, 12):.12f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _counters(attributes: dict[str, Any]) -> dict[str, float]:
    return {name: float(attributes[name]["N"]) if name in attributes else 0.0
            for name in ("requests", "cost_usd", "committed_usd")}
