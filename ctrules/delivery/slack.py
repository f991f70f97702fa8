"""Pipeline stage 7c — Slack delivery: posts grouped alerts and reports exactly what failed.

Flow per `deliver(alerts)`: route + group (routing.py) → per destination, at most
`max_messages` messages (the rest become one digest) → each message waits its turn at a
per-target token bucket (Slack allows about one message per second per channel/webhook) →
posted with slack_sdk, whose retry handlers retry 429 (honouring Retry-After), 5xx and
connection errors with backoff → the outcome is classified:

- transient (429/5xx/timeouts still failing after retries, Retry-After too long): a
  DeliveryFailure with permanent=False — the caller retries the batch item;
- permanent (a 4xx such as a revoked webhook, an unknown channel, a rejected payload): logged
  with the rule and eventIDs, counted in `permanent_failures`, reported with permanent=True.

After a transient failure the remaining messages for that target in the same batch are not
attempted (they would fail the same way and burn the Lambda's time); they are reported as
transient failures too. Nothing is dropped without appearing in the report.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.client import InvalidURL, RemoteDisconnected
from typing import Any, cast
from urllib.error import URLError

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    Jitter,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from ..alerts import Alert
from .base import DeliveryFailure, DeliveryReport, OnDelivered
from .message import Payload, render_digest, render_group
from .redact import redact, register, sdk_logger
from .routing import AlertGroup, RuleSetLike, per_destination, route
from .settings import Destination, SlackSettings
from .threads import ThreadStore

log = logging.getLogger("ctrules.delivery.slack")

# Web API `error` values that retrying cannot fix. Anything else that is not ok is treated as
# transient: retrying an unknown error is cheaper than losing an alert.
PERMANENT_API_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "invalid_auth",
        "invalid_blocks",
        "invalid_arguments",
        "invalid_form_data",
        "is_archived",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "no_text",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
        "too_many_attachments",
        "invalid_blocks_format",
        "ekm_access_denied",
        "cant_update_message",
        "message_not_found",
        "edit_window_closed",
    }
)


class SlackSendError(Exception):
    def __init__(self, reason: str, *, permanent: bool):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def _header(response: HttpResponse, name: str) -> str | None:
    for key, values in response.headers.items():
        if key.lower() == name and values:
            return values[0] if isinstance(values, list) else str(values)
    return None


def retry_after_seconds(response: HttpResponse) -> float:
    raw = _header(response, "retry-after")
    try:
        return max(float(raw), 0.0) if raw is not None else 1.0
    except ValueError:
        return 1.0


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """429: wait exactly what Retry-After asks (plus a little jitter), but only up to
    `max_wait`; a longer wait is better spent by the caller retrying the batch later."""

    def __init__(
        self, max_retry_count: int, max_wait: float, sleep: Callable[[float], None] = time.sleep
    ):
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and retry_after_seconds(response) <= self.max_wait
        )

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = retry_after_seconds(response) if response is not None else 1.0
        self.sleep(wait + random.uniform(0, 0.1))  # noqa: S311 - jitter, not crypto
        state.increment_current_attempt()


class ServerErrorHandler(ServerErrorRetryHandler):
    """5xx with exponential backoff (the built-in one covers only 500 and 503)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code <= 599


class ProportionalJitter(Jitter):
    """Up to +50% of the interval. slack_sdk's RandomJitter adds up to a whole second to every
    wait, which would dominate short backoffs."""

    def recalculate(self, duration: float) -> float:
        return duration * random.uniform(1.0, 1.5)  # noqa: S311 - jitter, not crypto


def retry_handlers(settings: SlackSettings) -> list[RetryHandler]:
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=settings.backoff_factor, jitter=ProportionalJitter()
    )
    return [
        RetryAfterHandler(settings.max_retries, settings.max_retry_after),
        ServerErrorHandler(max_retry_count=settings.max_retries, interval_calculator=backoff),
        ConnectionErrorRetryHandler(
            max_retry_count=settings.max_retries,
            interval_calculator=backoff,
            # A hung Slack surfaces as a timeout; retrying it risks a duplicate message, which
            # beats losing the alert.
            error_types=[URLError, ConnectionError, RemoteDisconnected, TimeoutError],
        ),
    ]


class RateLimiter:
    """Per-target token bucket (GCRA): `burst` messages back-to-back, then `rate` per second.

    Thread-safe; callers sleep outside the lock, each on its own reserved slot.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / rate
        self.burst = max(burst, 1)
        self.clock = clock
        self.sleep = sleep
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            tat = max(self._tat.get(key, now), now)
            wait = max(tat - now - (self.burst - 1) * self.interval, 0.0)
            self._tat[key] = tat + self.interval
            self.waited += wait
        if wait > 0:
            self.sleep(wait)
        return wait


@dataclass(frozen=True)
class Posted:
    channel: str | None
    ts: str | None


def _unsendable(exc: Exception) -> bool:
    """A request that can never be sent as configured (a malformed URL): retrying is useless."""
    return isinstance(exc, (ValueError, InvalidURL))


class SlackTransport:
    """slack_sdk clients per destination; turns every outcome into Posted or SlackSendError."""

    def __init__(self, settings: SlackSettings):
        self.settings = settings
        register(settings.bot_token)  # however the settings were made, mask their secrets
        for dest in settings.destinations.values():
            register(dest.webhook_url)
        # slack_sdk annotates timeout as int but hands it to urlopen, which takes seconds as
        # float; sub-second timeouts matter for tests and for Lambda time budgets.
        timeout = cast(int, settings.timeout)
        self._web: WebClient | None = None
        if settings.bot_token:
            self._web = WebClient(
                token=settings.bot_token,
                base_url=settings.api_url,
                timeout=timeout,
                retry_handlers=retry_handlers(settings),
                logger=sdk_logger(),
            )
        self._hooks: dict[str, WebhookClient] = {}
        for dest in settings.destinations.values():
            if dest.webhook_url and dest.webhook_url not in self._hooks:
                self._hooks[dest.webhook_url] = WebhookClient(
                    dest.webhook_url,
                    timeout=timeout,
                    retry_handlers=retry_handlers(settings),
                    logger=sdk_logger(),
                )

    def post(self, dest: Destination, payload: Payload, thread_ts: str | None = None) -> Posted:
        body = {**payload, "unfurl_links": False, "unfurl_media": False}
        if dest.webhook_url:
            try:
                resp = self._hooks[dest.webhook_url].send_dict(body)
            except (OSError, URLError) as exc:
                reason = f"connection error: {redact(str(exc))}"
                raise SlackSendError(reason, permanent=False) from None
            except Exception as exc:  # e.g. http.client.InvalidURL, which quotes the URL
                reason = f"request failed: {type(exc).__name__}: {redact(str(exc))}"
                raise SlackSendError(reason, permanent=_unsendable(exc)) from None
            if resp.status_code == 200:
                return Posted(None, None)
            reason = f"HTTP {resp.status_code}: {redact(str(resp.body)[:200])}"
            transient = resp.status_code == 429 or resp.status_code >= 500
            raise SlackSendError(reason, permanent=not transient)
        if dest.channel and self._web is not None:
            channel = dest.channel
            return self._call(
                lambda web: web.chat_postMessage(
                    channel=channel,
                    text=payload["text"],
                    blocks=payload["blocks"],
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            )
        raise SlackSendError(f"destination {dest.name!r} has no usable target", permanent=True)

    def update(self, channel: str, ts: str, payload: Payload) -> Posted:
        return self._call(
            lambda web: web.chat_update(
                channel=channel, ts=ts, text=payload["text"], blocks=payload["blocks"]
            )
        )

    def _call(self, call: Callable[[WebClient], Any]) -> Posted:
        assert self._web is not None
        try:
            resp = call(self._web)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            reason = f"HTTP {status}: {error or str(exc.response.data)[:200]}"
            if status == 429 or status >= 500:
                raise SlackSendError(reason, permanent=False) from None
            permanent = error in PERMANENT_API_ERRORS or (400 <= status < 500)
            raise SlackSendError(reason, permanent=permanent) from None
        except (OSError, URLError) as exc:
            raise SlackSendError(f"connection error: {redact(str(exc))}", permanent=False) from None
        except Exception as exc:  # never let a message quoting the request escape unmasked
            reason = f"request failed: {type(exc).__name__}: {redact(str(exc))}"
            raise SlackSendError(reason, permanent=_unsendable(exc)) from None
        channel, ts = resp.get("channel"), resp.get("ts")
        return Posted(
            channel if isinstance(channel, str) else None, ts if isinstance(ts, str) else None
        )


def thread_key(dest: Destination, key: Sequence[str]) -> str:
    digest = hashlib.sha256("\x1f".join((dest.target, *key)).encode()).hexdigest()
    return digest[:40]


class SlackSink:
    """The Slack Sink: see the module docstring for the flow and the failure contract."""

    def __init__(
        self,
        settings: SlackSettings,
        ruleset: RuleSetLike | None = None,
        *,
        thread_store: ThreadStore | None = None,
        limiter: RateLimiter | None = None,
        transport: SlackTransport | None = None,
    ):
        self.settings = settings
        self.ruleset = ruleset
        self.thread_store = thread_store
        self.limiter = limiter or RateLimiter(settings.rate, settings.burst)
        self.transport = transport or SlackTransport(settings)
        # Counters for the caller's metrics; the container worker delivers from several threads.
        self._counter_lock = threading.Lock()
        self._local = threading.local()  # the per-message callback of the running deliver()
        self.messages_sent = 0
        self.permanent_failures = 0
        self.transient_failures = 0

    def _why(self, alert: Alert) -> Sequence[str]:
        if self.ruleset is None:
            return ()
        try:
            return list(self.ruleset.why(alert))
        except Exception:  # explanations are a nicety; a failing one must not block the alert
            log.exception("why() failed for rule %s", alert.rule)
            return ()

    confirms_each_message = True

    def deliver(
        self, alerts: Sequence[Alert], on_delivered: OnDelivered | None = None
    ) -> DeliveryReport:
        """Route, group and post. `on_delivered` hears of each message's alerts as soon as
        Slack accepted it (the dedup table confirms them before the next post)."""
        self._local.on_delivered = on_delivered
        try:
            return self._deliver(alerts)
        finally:
            self._local.on_delivered = None

    def _deliver(self, alerts: Sequence[Alert]) -> DeliveryReport:
        s = self.settings
        groups, ignored = route(
            alerts,
            self.ruleset,
            s.destinations,
            s.default_destination,
            grouping=s.grouping,
            per_event=s.per_event,
        )
        report = DeliveryReport(ignored=ignored)
        for name, head, rest in per_destination(groups, s.max_messages):
            dest = s.destinations[name]
            broken: str | None = None
            for group in head:
                broken = self._send_group(dest, group, report, broken)
            if rest:
                self._send(dest, render_digest(rest), rest, report, broken)
        return report

    def _send_group(
        self, dest: Destination, group: AlertGroup, report: DeliveryReport, broken: str | None
    ) -> str | None:
        payload = render_group(
            group, why=self._why(group.first), account_names=self.settings.account_names
        )
        if self.thread_store is not None and dest.channel and broken is None:
            return self._send_threaded(dest, group, payload, report)
        return self._send(dest, payload, [group], report, broken)[0]

    def _send(
        self,
        dest: Destination,
        payload: Payload,
        groups: Sequence[AlertGroup],
        report: DeliveryReport,
        broken: str | None,
        thread_ts: str | None = None,
    ) -> tuple[str | None, Posted | None]:
        """Posts one message standing for `groups`.

        Returns why the target is now unusable for this batch (None if usable) and the post.
        """
        if broken is not None:
            self._fail(dest, groups, report, f"not attempted: {broken}", permanent=False)
            return broken, None
        self.limiter.acquire(dest.target)
        try:
            posted = self.transport.post(dest, payload, thread_ts=thread_ts)
        except SlackSendError as exc:
            self._fail(dest, groups, report, exc.reason, permanent=exc.permanent)
            if exc.permanent:
                return None, None
            return f"earlier message to {dest.name} failed: {exc.reason}", None
        with self._counter_lock:
            self.messages_sent += 1
        report.messages += 1
        report.delivered += sum(g.count for g in groups)
        on_delivered = getattr(self._local, "on_delivered", None)
        if on_delivered is not None:
            on_delivered([a for g in groups for a in g.alerts])
        return None, posted

    def _send_threaded(
        self, dest: Destination, group: AlertGroup, payload: Payload, report: DeliveryReport
    ) -> str | None:
        assert self.thread_store is not None and dest.channel is not None
        key = thread_key(dest, (group.destination, *group.key, *group.unrouted))
        try:
            parent = self.thread_store.get(key)
        except Exception:
            # The table is an optimisation for noise; without it the alert still goes out.
            log.exception("thread table read failed; posting top-level")
            parent = None
        if parent is None:
            broken, posted = self._send(dest, payload, [group], report, None)
            if posted is not None and posted.ts:
                try:
                    self.thread_store.start(
                        key, posted.channel or dest.channel, posted.ts, group.count
                    )
                except Exception:
                    log.exception("thread table write failed; later alerts post top-level")
            return broken
        payload = render_group(
            group,
            why=self._why(group.first),
            account_names=self.settings.account_names,
            note=f"{group.count:,} more in this group (thread reply)",
        )
        broken, posted = self._send(dest, payload, [group], report, None, thread_ts=parent.ts)
        if posted is None:
            return broken
        try:
            total = self.thread_store.add(key, group.count)
        except Exception:
            log.exception("thread table update failed; parent count not updated")
            return None
        parent_payload = render_group(
            group,
            why=self._why(group.first),
            account_names=self.settings.account_names,
            total=total,
            note=(
                f":thread: {total:,} alerts in this group so far; details above are from the "
                "latest batch; every batch is in the thread"
            ),
        )
        self.limiter.acquire(dest.target)
        try:
            self.transport.update(parent.channel, parent.ts, parent_payload)
        except SlackSendError as exc:
            # The alerts themselves were delivered in the reply; only the count is stale.
            log.warning("chat.update of thread parent failed: %s", exc.reason)
        return None

    def _fail(
        self,
        dest: Destination,
        groups: Sequence[AlertGroup],
        report: DeliveryReport,
        reason: str,
        *,
        permanent: bool,
    ) -> None:
        event_ids = tuple(i for g in groups for i in g.event_ids)
        rules = tuple(dict.fromkeys(r for g in groups for r in g.rules))
        report.failures.append(
            DeliveryFailure(
                destination=dest.name,
                reason=reason,
                event_ids=event_ids,
                rules=rules,
                permanent=permanent,
            )
        )
        with self._counter_lock:
            if permanent:
                self.permanent_failures += 1
            else:
                self.transient_failures += 1
        if permanent:
            log.error(
                "permanent Slack delivery failure to %s: %s; rules=%s eventIDs=%s%s",
                dest.name,
                reason,
                ",".join(rules),
                ",".join(event_ids[:50]),
                f" (+{len(event_ids) - 50} more)" if len(event_ids) > 50 else "",
            )
        else:
            log.warning(
                "transient Slack delivery failure to %s: %s; %d alerts to retry",
                dest.name,
                reason,
                len(event_ids),
            )
