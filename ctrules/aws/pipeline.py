"""AWS runtime — the core every entry point shares: work in, records evaluated, alerts
deduplicated and delivered, failures attributed back to the work item that must be retried.

A `Batch` gathers the work of one or more items (an SQS message id, a Kinesis sequence number,
or the whole invocation), evaluates records as they stream in, and delivers alerts in chunks —
so memory is bounded by the chunk, not the file. After `finish()` every item has an
`ItemResult`: an item is ok only when every file it announced was read and every alert it produced
was delivered (or was a duplicate / a permanent delivery failure, which retrying cannot fix and
which is logged and counted instead).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..alerts import Alert
from ..delivery.base import DeliveryFailure, DeliveryReport, Sink
from ..sources.envelopes import DEFAULT_SUFFIXES, S3Object, Skipped, Work, is_log_key
from ..sources.lazy import Unmatched, supports
from ..sources.logfile import BadRecord, Deferred, Record
from ..sources.s3 import ObjectMissing, ObjectUnreadable, iter_object
from ..sources.stream import MAX_DEPTH, depth_ok, mend_surrogates
from ..stateful.engine import StatefulEngine
from ..stateful.pending import Pending
from .dedup import DedupTable
from .logs import log
from .metrics import Counters

logger = logging.getLogger("ctrules.aws.pipeline")

CHUNK_ALERTS = 2000  # alerts held before a delivery; bounds memory on a noisy file
STATE_CHUNK = 10_000  # stateful observations folded before they are decided (O(keys) each time)
BAD_RECORDS_LOGGED = 10  # per source and batch; the rest are counted and summarised


class Evaluator(Protocol):
    def evaluate(self, event: Any) -> list[Alert]: ...


@dataclass
class ItemResult:
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Pipeline:
    def __init__(
        self,
        ruleset: Evaluator,
        sink: Sink,
        *,
        s3: Any = None,
        dedup: DedupTable | None = None,
        key_suffixes: Sequence[str] = DEFAULT_SUFFIXES,
        chunk_alerts: int = CHUNK_ALERTS,
        stateful: StatefulEngine | None = None,
    ):
        self.ruleset = ruleset
        self.sink = sink
        self.s3 = s3
        self.dedup = dedup
        self.key_suffixes = tuple(key_suffixes)
        self.chunk_alerts = chunk_alerts
        self.stateful = stateful  # stateful rules: decided per batch, in `Batch.finish`
        # What the lazy reader must decode: records either rule set may match, in part
        # (`Deferred`) those only the stateful selection may match.
        self.matcher: Any = ruleset
        if stateful is not None and stateful.active and supports(ruleset):
            self.matcher = stateful.reader_matcher(cast(Any, ruleset))
        # Sinks need not be thread-safe (grouping, rate limits); workers evaluate in parallel
        # but deliver one chunk at a time.
        self._deliver_lock = threading.Lock()

    def batch(self, counters: Counters) -> Batch:
        return Batch(self, counters)


def _access_denied(code: Any) -> bool:
    """Whether an errorCode counts toward the AccessDenied metric."""
    return str(code or "").startswith("AccessDenied")


class Batch:
    def __init__(self, pipeline: Pipeline, counters: Counters):
        self.p = pipeline
        self.counters = counters
        self._alerts: list[Alert] = []
        self._owners: list[str] = []
        self._errors: dict[str, list[str]] = defaultdict(list)
        self._items: list[str] = []
        self._bad_logged: dict[str, int] = defaultdict(int)
        self._observed: Pending | None = None  # stateful observations not yet decided

    # -- intake ---------------------------------------------------------------------------
    def add(self, item: str, work: Iterable[Work]) -> None:
        if item not in self._errors:
            self._items.append(item)
            self._errors[item] = []
        for unit in work:
            if isinstance(unit, S3Object):
                self.add_object(item, unit)
            elif isinstance(unit, Skipped):
                self.counters.add("Skipped")
                log(logger, "info", "skipped", reason=unit.reason, detail=unit.detail, item=item)
            elif isinstance(unit, BadRecord):
                self.bad(unit, item)
            elif not depth_ok(unit):  # inline records did not pass the stream's bounds
                self.bad(BadRecord(item, None, f"nested deeper than {MAX_DEPTH}"), item)
            else:
                unit, lone = mend_surrogates(unit)
                if lone:
                    self.bad(BadRecord(item, None, f"{lone} lone surrogate(s) replaced"), item)
                self.record(item, unit)

    def add_object(self, item: str, obj: S3Object) -> None:
        reason = is_log_key(obj.key, self.p.key_suffixes)
        if reason is not None:
            self.counters.add("SkippedKeys")
            log(logger, "info", "skipped key", reason=reason, uri=obj.uri, item=item)
            return
        self.counters.add("Files")
        records = 0
        try:
            for unit in iter_object(self.p.s3, obj, self.p.matcher):
                if type(unit) is dict:
                    records += 1
                    self.record(item, unit)
                elif type(unit) is Deferred:
                    records += 1
                    self.selected(item, unit)
                elif isinstance(unit, Unmatched):  # no rule can match these: counted only
                    records += len(unit)
                    self.unmatched(unit)
                else:
                    assert isinstance(unit, BadRecord)
                    self.bad(unit, item)
        except (ObjectMissing, ObjectUnreadable) as exc:
            self.fail(item, str(exc))
            return
        except MemoryError:
            # Possibly the neighbours' fault (threads share the memory): a retry may succeed.
            self.fail(item, f"{obj.uri}: out of memory while reading")
            return
        except Exception as exc:
            # Decoding never raises by contract, so this is a bug meeting some input; the same
            # bytes would raise again on every retry. Count and log it; the item's other files
            # and the batch's other items go on.
            self.counters.add("ObjectErrors")
            log(
                logger,
                "error",
                "object could not be processed (not retried)",
                uri=obj.uri,
                records_before=records,
                error=f"{type(exc).__name__}: {exc}",
                item=item,
            )
            return
        log(logger, "info", "file done", uri=obj.uri, records=records, item=item)

    def record(self, item: str, record: Record) -> None:
        self.counters.add("Records")
        try:
            alerts = self.p.ruleset.evaluate(record)
        except Exception as exc:  # evaluate never raises by contract; if it does, say so loudly
            self.fail(item, f"rule evaluation raised {type(exc).__name__}: {exc}")
            return
        if _access_denied(record.get("errorCode")):
            # The fivexl module's AccessDenied metrics (metrics.ACCESS_DENIED_NAMESPACE).
            self.counters.add("AccessDenied")
            if any(alert.ignored for alert in alerts):
                self.counters.add("IgnoredAccessDenied")
        if self.p.stateful is not None:
            self._observe(item, record)
        for alert in alerts:
            if alert.ignored:
                self.counters.ignored(alert.rule, alert.ignored_by)
                continue
            self.counters.alert(alert.rule)
            self._alerts.append(alert)
            self._owners.append(item)
        if len(self._alerts) >= self.p.chunk_alerts:
            self.flush()

    def selected(self, item: str, record: Deferred) -> None:
        """A record only the stateful rules' selection may match (no alert of a per-event rule:
        what `record` would count of it is its errorCode)."""
        self.counters.add("Records")
        if _access_denied(record.record.get("errorCode")):
            self.counters.add("AccessDenied")
        if self.p.stateful is not None:
            self._observe(item, record)

    def _observe(self, item: str, record: Record | Deferred) -> None:
        assert self.p.stateful is not None
        observations = self.p.stateful.observe(record)
        if observations:
            if self._observed is None:
                self._observed = self.p.stateful.pending()
            for ob in observations:
                self._observed.add(ob, item)
            if len(self._observed) >= STATE_CHUNK:  # decided as often as alerts are sent
                decide_stateful(self, self._observed)
                self._observed = None

    def unmatched(self, records: Unmatched) -> None:
        """Count records no rule can match (what `record` would count of them: they have no
        alert, so none is ignored either; their errorCode was decoded)."""
        self.counters.add("Records", len(records))
        denied = sum(map(_access_denied, records.error_codes()))
        if denied:
            self.counters.add("AccessDenied", denied)

    def bad(self, bad: BadRecord, item: str) -> None:
        self.counters.add("BadRecords")
        self._bad_logged[bad.source] += 1
        if self._bad_logged[bad.source] <= BAD_RECORDS_LOGGED:
            log(
                logger,
                "warning",
                "bad record",
                source=bad.source,
                index=bad.index,
                reason=bad.reason,
                item=item,
            )

    def fail(self, item: str, reason: str) -> None:
        if item not in self._errors:
            self._items.append(item)
        self._errors[item].append(reason)
        log(logger, "error", "work item failed", item=item, reason=reason)

    # -- delivery -------------------------------------------------------------------------
    def flush(self) -> None:
        alerts, owners = self._alerts, self._owners
        self._alerts, self._owners = [], []
        if not alerts:
            return
        owner_of = {id(a): o for a, o in zip(alerts, owners, strict=True)}
        to_send: list[Alert] = alerts
        dedup = self.p.dedup
        if dedup is not None:
            try:
                claim = dedup.claim(alerts)
            except Exception as exc:
                for item in set(owners):
                    self.fail(item, f"dedup table unavailable: {type(exc).__name__}: {exc}")
                if self.p.stateful is not None:  # not sent: a retry must decide them again
                    for alert in alerts:
                        if alert.state is not None:
                            self.p.stateful.release(alert)
                return
            self.counters.add("Duplicates", len(claim.duplicates))
            for alert in claim.busy:
                self.fail(
                    owner_of[id(alert)],
                    f"alert {alert.rule}/{alert.event_id} is being delivered by another worker",
                )
            to_send = claim.claimed
        if not to_send:
            return
        # Claim, deliver, confirm: a sink that reports each accepted message (Slack, JSON
        # lines) has it confirmed in the dedup table before its next message goes out, so a
        # process killed mid-delivery repeats at most the one message in flight — never the
        # chunk. Delivery runs under one lock: sinks need not be thread-safe.
        confirmed: set[int] = set()

        def on_delivered(alerts: Sequence[Alert]) -> None:
            confirmed.update(id(a) for a in alerts)
            if dedup is not None:
                self._confirm(dedup, alerts)

        with self.p._deliver_lock:
            sink: Any = self.p.sink
            try:
                if getattr(sink, "confirms_each_message", False):
                    report = sink.deliver(to_send, on_delivered=on_delivered)
                else:
                    report = sink.deliver(to_send)
            except Exception as exc:  # a sink must report, not raise: what it confirmed before
                # raising was delivered, the rest failed
                unsent = tuple(a.event_id or "-" for a in to_send if id(a) not in confirmed)
                reason = f"sink raised {type(exc).__name__}: {exc}"
                report = DeliveryReport(
                    delivered=len(confirmed),
                    failures=[DeliveryFailure("*", reason, event_ids=unsent if confirmed else ())],
                )
            failed = self._account(report, to_send, owner_of) - confirmed
            if self.p.stateful is not None:  # a retry must be able to decide these again
                for alert in to_send:
                    if id(alert) in failed and alert.state is not None:
                        self.p.stateful.release(alert)
            if dedup is not None:
                delivered = [
                    a for a in to_send if id(a) not in failed and id(a) not in confirmed
                ]
                retry = [a for a in to_send if id(a) in failed and id(a) not in confirmed]
                self._confirm(dedup, delivered)
                try:
                    dedup.release(retry)
                except Exception as exc:  # the claims expire after the lease instead
                    log(logger, "error", "dedup release failed",
                        error=f"{type(exc).__name__}: {exc}")

    def _confirm(self, dedup: DedupTable, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        try:
            dedup.confirm(alerts)
        except Exception as exc:
            # Delivered but not recorded: a retry may repeat these alerts. Say so; do not fail
            # the items (that would make the repeat certain).
            log(logger, "error", "dedup confirm failed", error=f"{type(exc).__name__}: {exc}")

    def _account(
        self, report: DeliveryReport, sent: list[Alert], owner_of: dict[int, str]
    ) -> set[int]:
        """Count the report, fail the owners of retryable failures; ids of failed alerts."""
        self.counters.add("Delivered", report.delivered)
        failed: set[int] = set()
        for failure in report.failures:
            hit = [a for a in sent if _covers(failure, a)]
            if failure.permanent:
                self.counters.add("PermanentDeliveryFailures")
                log(
                    logger,
                    "error",
                    "permanent delivery failure (not retried)",
                    destination=failure.destination,
                    reason=failure.reason,
                    rules=list(failure.rules),
                    event_ids=list(failure.event_ids)[:20],
                )
                continue
            self.counters.add("DeliveryFailures")
            for alert in hit:
                failed.add(id(alert))
            for item in sorted({owner_of[id(a)] for a in hit}):
                self.fail(item, f"delivery to {failure.destination} failed: {failure.reason}")
        return failed

    def finish(self) -> dict[str, ItemResult]:
        if self._observed is not None:
            decide_stateful(self, self._observed)
            self._observed = None
        self.flush()
        for source, count in self._bad_logged.items():
            if count > BAD_RECORDS_LOGGED:
                log(logger, "warning", "more bad records", source=source, count=count)
        results = {item: ItemResult(list(self._errors[item])) for item in self._items}
        self.counters.add("FailedItems", sum(1 for r in results.values() if not r.ok))
        return results


def _covers(failure: DeliveryFailure, alert: Alert) -> bool:
    if failure.event_ids and alert.event_id not in failure.event_ids:
        return False
    return not failure.rules or alert.rule in failure.rules


def decide_stateful(batch: Batch, observed: Pending) -> None:
    """Fold the batch's stateful observations into the state store (one request per rule, key
    and window) and queue the alerts decided, each owned by the item of its last event."""
    engine = batch.p.stateful
    assert engine is not None
    late = engine.stats.late
    try:
        alerts = engine.process(observed)
    except Exception as exc:  # the store failed: the items retry; adding again is idempotent
        for item in sorted(observed.owners):
            batch.fail(item, f"state store unavailable: {type(exc).__name__}: {exc}")
        return
    batch.counters.add("LateEvents", engine.stats.late - late)
    for alert in alerts:
        sample = (alert.state or {}).get("sample") or [""]
        batch.counters.alert(alert.rule)
        batch._alerts.append(alert)
        batch._owners.append(observed.shown.get((alert.rule, sample[-1]))
                             or observed.last_owner or "")
