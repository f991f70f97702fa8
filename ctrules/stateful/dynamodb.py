"""Stateful rules — the DynamoDB state store (Lambda handler, container workers).

One table, partition key `pk` (string), TTL attribute `expires_at`; the Terraform module creates
it (deploy/terraform/state.tf). Every operation is a single UpdateItem / PutItem / DeleteItem, so
the engine's cost is one request per (rule, key, window) a batch touches, plus one per alert:

- `add_members`: `ADD m :set` — atomic set union: two invocations adding to the same window at
  once both land (no lost increment) and each sees the union that includes its own events; a
  `size(m) < :cap` condition stops a full window growing (the threshold was reached);
- `first_seen`: `SET last = :last` conditional on `last < :last`, returning the old item, so
  exactly one writer sees "not seen in the look-back";
- `claim`: `PutItem` with `attribute_not_exists(pk)`: exactly one writer wins an alert.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

TTL_ATTRIBUTE = "expires_at"


class DynamoStore:
    remote = True  # state outlives the process: keep it a day past its window

    def __init__(self, client: Any, table: str):
        self.client = client
        self.table = table
        self.requests = 0
        self._conditional = client.exceptions.ConditionalCheckFailedException

    def add_members(self, item: str, fields: Mapping[str, Collection[str]], cap: int,
                    ttl: int) -> dict[str, frozenset[str]] | None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":v{i}": {"SS": sorted(members)}
                                  for i, members in enumerate(fields.values()) if members}
        adds = [f"#f{i} :v{i}" for i, members in enumerate(fields.values()) if members]
        if not adds:
            return {}
        values[":ttl"] = {"N": str(ttl)}
        values[":cap"] = {"N": str(cap)}
        names["#ttl"] = TTL_ATTRIBUTE
        condition = " AND ".join(f"(attribute_not_exists(#f{i}) OR size(#f{i}) < :cap)"
                                 for i in range(len(fields)))
        self.requests += 1
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": item}},
                UpdateExpression="ADD " + ", ".join(adds) + " SET #ttl = :ttl",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._conditional:
            return None
        attributes = response.get("Attributes", {})
        return {name: frozenset(value["SS"]) for name, value in attributes.items()
                if isinstance(value, dict) and "SS" in value}

    def remove_members(self, item: str, fields: Mapping[str, Collection[str]]) -> None:
        fields = {k: v for k, v in fields.items() if v}
        if not fields:
            return
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": {"SS": sorted(m)} for i, m in enumerate(fields.values())}
        self.requests += 1
        self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": item}},
            UpdateExpression="DELETE " + ", ".join(f"#f{i} :v{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def first_seen(self, item: str, first: int, first_id: str, last: int, lookback: int,
                   ttl: int) -> int | None:
        key = {"pk": {"S": item}}
        self.requests += 1
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #last = :last, #ttl = :ttl, "
                                 "#first = if_not_exists(#first, :first), "
                                 "#fid = if_not_exists(#fid, :fid)",
                ConditionExpression="attribute_not_exists(#last) OR #last < :last",
                ExpressionAttributeNames={"#last": "last", "#first": "first", "#fid": "fid",
                                          "#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":last": {"N": str(last)}, ":first": {"N": str(first)},
                                           ":fid": {"S": first_id}, ":ttl": {"N": str(ttl)}},
                ReturnValues="ALL_OLD",
            )
        except self._conditional:
            # A later sighting is stored: this batch starts nothing, unless it is a retry of
            # the batch that started the current episode.
            old = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            self.requests += 1
            stored = old.get("Item", {})
            if stored.get("fid", {}).get("S") == first_id:
                return int(stored["first"]["N"])
            return None
        old_item = response.get("Attributes")
        if not old_item:
            return first
        old_last = int(old_item["last"]["N"])
        if first - old_last > lookback:
            # A new episode: this batch's first sighting becomes its start. Conditional on the
            # `last` this writer replaced, so a concurrent restart cannot be overwritten.
            self.requests += 1
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #first = :first, #fid = :fid",
                ExpressionAttributeNames={"#first": "first", "#fid": "fid"},
                ExpressionAttributeValues={":first": {"N": str(first)}, ":fid": {"S": first_id}},
            )
            return first
        if old_item.get("fid", {}).get("S") == first_id:
            return int(old_item["first"]["N"])
        return None

    def claim(self, name: str, ttl: int) -> bool:
        self.requests += 1
        try:
            self.client.put_item(
                TableName=self.table,
                Item={"pk": {"S": name}, TTL_ATTRIBUTE: {"N": str(ttl)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._conditional:
            return False
        return True

    def release(self, name: str) -> None:
        self.requests += 1
        self.client.delete_item(TableName=self.table, Key={"pk": {"S": name}})

    def expire(self, now: int) -> None:
        """DynamoDB's TTL deletes expired items by itself."""


def create_table(client: Any, table: str) -> None:
    """The table as the Terraform module makes it (for tests and `ctrules` set-up scripts)."""
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
