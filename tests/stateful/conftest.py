"""Fixtures for the stateful tests: a moto server that applies one request at a time.

DynamoDB applies each write to an item atomically; moto's threaded server runs an `UpdateItem`
as several Python steps without a lock, so two requests in flight can interleave inside one
`ADD` and lose an element (seen here in about one run in three). The concurrency tests need the
server to be as atomic per request as DynamoDB is, while the two writers still race with each
other request by request: this server handles requests one after another (moto's own app and
backends, real HTTP on loopback, werkzeug's non-threaded server).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from tests.support.moto_server import DUMMY_ENV


@pytest.fixture(scope="session")
def serial_moto() -> Iterator[str]:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    saved = {k: os.environ.get(k) for k in DUMMY_ENV}
    os.environ.update(DUMMY_ENV)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app),
                         threaded=False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        thread.join()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
