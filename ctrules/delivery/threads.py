"""Pipeline stage 7d — thread state across invocations (bot-token mode, optional DynamoDB).

When a group (destination + group key) already has a top-level message younger than the
window, later alerts of that group reply in its thread and the parent's count is updated,
instead of new top-level messages. The table holds one item per group:
`pk` (string, partition key), `channel`, `ts`, `count` (number), `expires_at` (epoch seconds;
enable DynamoDB TTL on it so old items disappear — the code also checks it, since TTL deletion
lags by hours).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ThreadRef:
    channel: str
    ts: str
    count: int


class ThreadStore(Protocol):
    def get(self, key: str) -> ThreadRef | None: ...

    def start(self, key: str, channel: str, ts: str, count: int) -> bool: ...

    def add(self, key: str, count: int) -> int: ...


class DynamoThreadStore:
    """ThreadStore on a DynamoDB table (boto3 client passed in; ctrules.aws owns AWS access)."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        window: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ):
        self.client = client
        self.table = table
        self.window = window
        self.clock = clock

    def get(self, key: str) -> ThreadRef | None:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        if float(item["expires_at"]["N"]) <= self.clock():
            return None
        return ThreadRef(item["channel"]["S"], item["ts"]["S"], int(item["count"]["N"]))

    def start(self, key: str, channel: str, ts: str, count: int) -> bool:
        """Records a new parent; False when a live one already exists (a concurrent worker won
        the race: its thread is used from then on, ours stays a separate message)."""
        now = self.clock()
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": key},
                    "channel": {"S": channel},
                    "ts": {"S": ts},
                    "count": {"N": str(count)},
                    "expires_at": {"N": str(int(now + self.window))},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def add(self, key: str, count: int) -> int:
        """Atomically adds to the parent's count; returns the new total."""
        resp = self.client.update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression="ADD #c :n",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["count"]["N"])
