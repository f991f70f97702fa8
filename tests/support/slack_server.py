"""A small local Slack for tests: incoming webhooks, chat.postMessage and chat.update.

Real HTTP on 127.0.0.1 (a free port, one thread per request), so slack_sdk runs unmodified,
pointed here through the webhook URL and `WebClient(base_url=server.api_url)`. It records every
request, validates Block Kit limits the way Slack rejects messages (50 blocks, 3000 characters
per section text, 2000 per field, 150 per header, 40,000 per message), and can be scripted to
answer 429 with Retry-After, 5xx, a permanent error, or to hang. `hold_after(n)` lets n more
requests through and then holds each later one *before* it is taken (a message still on its
way): `wait_held()` tells a test that a sender is blocked mid-delivery (the moment to kill it),
and after `release_held()` a held request whose sender has gone is dropped unrecorded, as a
message whose sender died before Slack received it never arrives.

Use it as a pytest fixture: `from tests.support.slack_server import slack_server` in a conftest.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

MAX_BLOCKS = 50
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
HEADER_TEXT_LIMIT = 150
CONTEXT_ELEMENTS_LIMIT = 10
MESSAGE_CHARS_LIMIT = 40000
KNOWN_BLOCKS = {"section", "header", "context", "divider", "actions", "image", "rich_text"}


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "text" and isinstance(child, str):
                yield child
            else:
                yield from _texts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _texts(child)


def validate_message(payload: dict[str, Any]) -> list[str]:
    """Slack's limits for a message; an empty list means Slack would accept it."""
    problems: list[str] = []
    text = payload.get("text")
    blocks = payload.get("blocks")
    if not text and not blocks:
        problems.append("no_text: neither text nor blocks")
    if text is not None and not isinstance(text, str):
        problems.append("text must be a string")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except json.JSONDecodeError:
            return [*problems, "blocks is not JSON"]
    if blocks is None:
        blocks = []
    if not isinstance(blocks, list):
        return [*problems, "blocks must be a list"]
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in KNOWN_BLOCKS:
            problems.append(f"block {i}: unknown type {kind!r}")
            continue
        if kind == "section":
            text_obj = block.get("text")
            fields = block.get("fields")
            if text_obj is None and not fields:
                problems.append(f"block {i}: section without text or fields")
            if text_obj is not None:
                if len(text_obj.get("text", "")) > SECTION_TEXT_LIMIT:
                    problems.append(f"block {i}: section text > {SECTION_TEXT_LIMIT}")
                if not text_obj.get("text"):
                    problems.append(f"block {i}: empty section text")
            if fields:
                if len(fields) > MAX_FIELDS:
                    problems.append(f"block {i}: {len(fields)} fields > {MAX_FIELDS}")
                for j, f in enumerate(fields):
                    if len(f.get("text", "")) > FIELD_TEXT_LIMIT:
                        problems.append(f"block {i} field {j}: text > {FIELD_TEXT_LIMIT}")
        elif kind == "header":
            text_obj = block.get("text") or {}
            if text_obj.get("type") != "plain_text":
                problems.append(f"block {i}: header text must be plain_text")
            if not 0 < len(text_obj.get("text", "")) <= HEADER_TEXT_LIMIT:
                problems.append(f"block {i}: header text empty or > {HEADER_TEXT_LIMIT}")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= CONTEXT_ELEMENTS_LIMIT:
                problems.append(f"block {i}: context needs 1..{CONTEXT_ELEMENTS_LIMIT} elements")
            for j, el in enumerate(elements):
                if len(el.get("text", "")) > SECTION_TEXT_LIMIT:
                    problems.append(f"block {i} element {j}: text > {SECTION_TEXT_LIMIT}")
    total = len(text or "") + sum(len(t) for t in _texts(blocks))
    if total > MESSAGE_CHARS_LIMIT:
        problems.append(f"message has {total} characters > {MESSAGE_CHARS_LIMIT}")
    return problems


@dataclass
class Recorded:
    """One request as received, and what the server answered."""

    kind: str  # "webhook", "chat.postMessage", "chat.update", or the unknown path
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0  # 0: not answered (yet, or hung)
    answer: str = ""
    violations: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        if self.status != 200:
            return False
        if self.kind == "webhook":
            return True
        return bool(json.loads(self.answer or "{}").get("ok"))


@dataclass
class Scripted:
    """One scripted answer, used once by the next matching request."""

    status: int = 200
    body: str | dict[str, Any] = "ok"
    retry_after: float | None = None
    hang: float | None = None
    match: str | None = None  # substring of the path; None matches any


class SlackServer:
    def __init__(self, token: str = "xoxb-test-token"):
        self.token = token
        self.requests: list[Recorded] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.missing_channels: set[str] = set()
        self.revoked_hooks: set[str] = set()
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._ts = 1_700_000_000_000_100
        self._release = threading.Event()
        self._hold_left: int | None = None  # requests let through before holding; None: no gate
        self._held = threading.Event()
        self._gate = threading.Event()
        self.dropped = 0  # held requests whose sender went away
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SlackServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._gate.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def webhook_url(self, name: str = "default") -> str:
        return f"{self.url}/hooks/{name}"

    # -- scripting ---------------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        body: str | dict[str, Any] | None = None,
        match: str | None = None,
    ) -> None:
        default: str | dict[str, Any] = "rate_limited" if status == 429 else "internal_error"
        for _ in range(n):
            self._script.append(
                Scripted(status=status, body=body or default, retry_after=retry_after, match=match)
            )

    def rate_limit_next(self, n: int = 1, retry_after: float = 1, match: str | None = None) -> None:
        self.fail_next(n, status=429, retry_after=retry_after, match=match)

    def hang_next(self, n: int = 1, seconds: float = 5.0, match: str | None = None) -> None:
        for _ in range(n):
            self._script.append(Scripted(hang=seconds, match=match))

    def hold_after(self, n: int) -> None:
        """Let `n` more requests through, then hold every later one until `release_held`."""
        with self._lock:
            self._hold_left = n
            self._held.clear()
            self._gate.clear()

    def wait_held(self, timeout: float = 30.0) -> bool:
        """Block until a request is being held (its sender waits, mid-delivery)."""
        return self._held.wait(timeout)

    def release_held(self) -> None:
        with self._lock:
            self._hold_left = None
        self._gate.set()

    # -- inspection --------------------------------------------------------------------------
    def accepted(self, kind: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.accepted and (kind is None or r.kind == kind)]

    def posts_to(self, where: str) -> list[dict[str, Any]]:
        """Accepted message payloads for a webhook name or a channel id."""
        out = []
        for r in self.accepted():
            if r.kind == "webhook" and r.path == f"/hooks/{where}":
                out.append(r.body)
            elif r.kind == "chat.postMessage" and r.body.get("channel") == where:
                out.append(r.body)
        return out

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return [v for r in self.requests for v in r.violations]

    # -- handling ----------------------------------------------------------------------------
    def _next_script(self, path: str) -> Scripted | None:
        with self._lock:
            for item in self._script:
                if item.match is None or item.match in path:
                    self._script.remove(item)
                    return item
        return None

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length).decode("utf-8") if length else ""
        ctype = req.headers.get("Content-Type") or ""
        body: dict[str, Any]
        try:
            if "json" in ctype:
                body = json.loads(raw or "{}")
            else:
                body = {k: v[0] for k, v in parse_qs(raw).items()}
        except json.JSONDecodeError:
            body = {"_raw": raw}
        path = req.path.split("?", 1)[0]
        if not self._pass_gate(req):
            return
        if path.startswith("/hooks/"):
            kind = "webhook"
        elif path.startswith("/api/"):
            kind = path[len("/api/") :]
        else:
            kind = path
        record = Recorded(kind, path, dict(req.headers.items()), body)
        with self._lock:
            self.requests.append(record)

        scripted = self._next_script(path)
        if scripted is not None and scripted.hang is not None:
            # Hold the connection without answering; the client's timeout must fire.
            record.answer = "hung"
            self._release.wait(scripted.hang)
            try:
                req.wfile.flush()
            finally:
                req.close_connection = True
            return
        if scripted is not None:
            answer = scripted.body if isinstance(scripted.body, str) else json.dumps(scripted.body)
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = f"{scripted.retry_after:g}"
            self._answer(req, record, scripted.status, answer, headers)
            return

        if kind == "webhook":
            self._webhook(req, record, path)
        elif kind in ("chat.postMessage", "chat.update"):
            self._api(req, record, kind)
        else:
            self._answer(req, record, 404, json.dumps({"ok": False, "error": "unknown_method"}))

    def _pass_gate(self, req: BaseHTTPRequestHandler) -> bool:
        with self._lock:
            if self._hold_left is None:
                return True
            if self._hold_left > 0:
                self._hold_left -= 1
                return True
        self._held.set()
        self._gate.wait()
        if _sender_gone(req.connection):
            with self._lock:
                self.dropped += 1
            req.close_connection = True
            return False
        return True

    def _webhook(self, req: BaseHTTPRequestHandler, record: Recorded, path: str) -> None:
        if path[len("/hooks/") :] in self.revoked_hooks:
            self._answer(req, record, 404, "no_service")
            return
        record.violations = validate_message(record.body)
        if record.violations:
            self._answer(req, record, 400, "invalid_blocks")
            return
        self._answer(req, record, 200, "ok")

    def _api(self, req: BaseHTTPRequestHandler, record: Recorded, kind: str) -> None:
        auth = req.headers.get("Authorization") or ""
        body = record.body

        def reply(payload: dict[str, Any]) -> None:
            self._answer(req, record, 200, json.dumps(payload))

        if auth != f"Bearer {self.token}":
            reply({"ok": False, "error": "invalid_auth"})
            return
        channel = body.get("channel")
        if not channel:
            reply({"ok": False, "error": "channel_not_found"})
            return
        if channel in self.missing_channels:
            reply({"ok": False, "error": "channel_not_found"})
            return
        record.violations = validate_message(body)
        if record.violations:
            reply({"ok": False, "error": "invalid_blocks"})
            return
        with self._lock:
            if kind == "chat.update":
                ts = body.get("ts")
                if (channel, ts) not in self.messages:
                    reply({"ok": False, "error": "message_not_found"})
                    return
                self.messages[(channel, ts)].update(body)
            else:
                self._ts += 100
                ts = f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"
                self.messages[(channel, ts)] = dict(body)
        reply({"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}})

    def _answer(
        self,
        req: BaseHTTPRequestHandler,
        record: Recorded,
        status: int,
        answer: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        record.status, record.answer = status, answer
        data = answer.encode("utf-8")
        req.send_response(status)
        is_json = answer.startswith("{")
        req.send_header("Content-Type", "application/json" if is_json else "text/plain")
        req.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)


def _sender_gone(sock: socket.socket) -> bool:
    """Has the client closed its end (it sent its whole request, so readable means EOF)?"""
    try:
        readable, _, _ = select.select([sock], [], [], 0.2)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server
