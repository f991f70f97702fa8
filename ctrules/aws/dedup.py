"""AWS runtime — once-only delivery per (rule, eventID) across retries, workers and kills.

S3 notifications, SQS messages and Kinesis batches are redelivered on retry, so the same
CloudTrail event can be evaluated twice. With a DynamoDB table configured, each alert is
*claimed* by a conditional put before delivery, *confirmed* after the sink reports it delivered,
and *released* if delivery failed:

- no item, or a pending claim whose lease expired (its worker died) -> claimed: deliver it;
- `delivered` -> a duplicate: not sent again, counted;
- pending under another live claim -> busy: the work item fails and is retried later, so an
  alert is never dropped because a worker died holding its claim.

Confirmation is per message, not per chunk: the pipeline hands the sink a callback and a sink
that supports it (Slack, JSON lines) reports each message the moment it was accepted, and its
alerts are confirmed before the next message is posted. A worker killed at any point therefore
repeats nothing it had confirmed: the claims of messages not yet sent expire after the lease
and the retry sends them once. The one window left is a kill after Slack accepted a message and
before its `delivered` write returned (one HTTP answer plus one DynamoDB write): that message
may be posted twice. Neither incoming webhooks nor chat.postMessage take an idempotency key, so
no client can close that window. Items expire through the table's TTL attribute `expires_at`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..alerts import Alert

PENDING = "pending"
DELIVERED = "delivered"


def dedup_key(alert: Alert) -> str | None:
    event_id = alert.event_id
    return f"{alert.rule}#{event_id}" if event_id else None


@dataclass
class Claim:
    claimed: list[Alert] = field(default_factory=list)
    duplicates: list[Alert] = field(default_factory=list)
    busy: list[Alert] = field(default_factory=list)


class DedupTable:
    def __init__(
        self,
        client: Any,
        table: str,
        *,
        ttl_seconds: int = 1209600,
        lease_seconds: int = 300,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ):
        self.client = client
        self.table = table
        self.ttl = ttl_seconds
        self.lease = lease_seconds
        self.clock = clock
        self.owner = owner or uuid.uuid4().hex

    def claim(self, alerts: Sequence[Alert]) -> Claim:
        result = Claim()
        mine: set[str] = set()  # claimed by this call: a repeat in the same chunk is a duplicate
        for alert in alerts:
            key = dedup_key(alert)
            if key is None:  # nothing to deduplicate on: always deliver
                result.claimed.append(alert)
                continue
            if key in mine:
                result.duplicates.append(alert)
                continue
            now = int(self.clock())
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={
                        "pk": {"S": key},
                        "state": {"S": PENDING},
                        "owner": {"S": self.owner},
                        "lease_until": {"N": str(now + self.lease)},
                        "expires_at": {"N": str(now + self.ttl)},
                    },
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR (#s = :pending AND lease_until < :now)"
                    ),
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={
                        ":pending": {"S": PENDING},
                        ":now": {"N": str(now)},
                    },
                )
            except Exception as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
                self._classify(alert, key, result)
                continue
            mine.add(key)
            result.claimed.append(alert)
        return result

    def _classify(self, alert: Alert, key: str, result: Claim) -> None:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item", {})
        if item.get("state", {}).get("S") == DELIVERED:
            result.duplicates.append(alert)
        else:
            # Pending under a claim that is still live — another worker's, or another thread
            # of this one working on a redelivered copy. Its delivery may yet fail, so this
            # copy must not be dropped: retry later.
            result.busy.append(alert)

    def confirm(self, alerts: Sequence[Alert]) -> None:
        now = int(self.clock())
        keys = sorted({k for k in (dedup_key(a) for a in alerts) if k})
        for start in range(0, len(keys), 25):
            requests = [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": key},
                            "state": {"S": DELIVERED},
                            "owner": {"S": self.owner},
                            "expires_at": {"N": str(now + self.ttl)},
                        }
                    }
                }
                for key in keys[start : start + 25]
            ]
            pending: dict[str, Any] = {self.table: requests}
            for attempt in range(8):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError(f"dedup table {self.table}: could not confirm deliveries")

    def release(self, alerts: Sequence[Alert]) -> None:
        for key in sorted({k for k in (dedup_key(a) for a in alerts) if k}):
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key={"pk": {"S": key}},
                    ConditionExpression="#s = :pending AND #o = :me",
                    ExpressionAttributeNames={"#s": "state", "#o": "owner"},
                    ExpressionAttributeValues={
                        ":pending": {"S": PENDING},
                        ":me": {"S": self.owner},
                    },
                )
            except Exception as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
