"""``RemoteContext``: timeouts, retries, headers and error mapping of the hop, on real sockets.

A small HTTP server in a thread stands for the other deployment and records
what it receives; ``HangingServer`` is one that accepts and never answers, and
a free port one that refuses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from contexts.kernel.correlation import reset_correlation_id, set_correlation_id
from contexts.kernel.errors import DomainError
from contexts.kernel.remote.client import RemoteCallRejected, RemoteContext
from contexts.kernel.testing import HangingServer, free_port


class WidgetsUnavailable(DomainError):
    http_status = 503


class OutOfWidgets(DomainError):
    pass


class StubDeployment:
    """Answers every request with ``status`` and ``body``; keeps each request it got."""

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {"ok": True}
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length).decode() if length else "",
                    }
                )
                payload = json.dumps(stub.body).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubDeployment]:
    server = StubDeployment()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _hop_settings():
    with override_settings(
        SERVICE_TOKENS=["current-token", "old-token"],
        INTERNAL_API_TIMEOUT_SECONDS=0.5,
        INTERNAL_API_RETRIES=2,
    ):
        yield


def widgets(url: str) -> RemoteContext:
    return RemoteContext(
        "widgets", unavailable=WidgetsUnavailable, errors=[OutOfWidgets], base_url=url
    )


def test_a_call_sends_the_service_token_and_the_correlation_id(stub):
    token = set_correlation_id("corr-123")
    try:
        answer = widgets(stub.url).get("things/1", params={"full": "yes"})
    finally:
        reset_correlation_id(token)

    assert answer == {"ok": True}
    (request,) = stub.requests
    assert request["path"] == "/internal/v1/widgets/things/1?full=yes"
    assert request["headers"]["Authorization"] == "Service current-token"
    assert request["headers"]["X-Request-ID"] == "corr-123"


def test_a_404_is_none(stub):
    stub.status, stub.body = 404, {"detail": "No such thing.", "error": "ThingNotFound"}

    assert widgets(stub.url).get("things/2") is None


def test_a_read_failing_with_a_5xx_is_retried_then_raised_as_the_contexts_error(stub):
    stub.status, stub.body = 502, {"detail": "Bad gateway."}

    with pytest.raises(WidgetsUnavailable, match="widgets service is unavailable"):
        widgets(stub.url).get("things/3")

    assert len(stub.requests) == 3  # the call and two retries


def test_a_write_without_an_idempotency_key_is_sent_once(stub):
    stub.status = 500

    with pytest.raises(WidgetsUnavailable):
        widgets(stub.url).post("things", {"n": 1})

    assert len(stub.requests) == 1


def test_a_write_with_an_idempotency_key_is_retried_with_the_same_key(stub):
    stub.status = 503

    with pytest.raises(WidgetsUnavailable):
        widgets(stub.url).post("things", {"n": 1}, idempotency_key="order-7")

    assert [r["headers"]["Idempotency-Key"] for r in stub.requests] == ["order-7"] * 3
    assert {r["body"] for r in stub.requests} == {'{"n":1}'}


def test_a_contract_error_named_by_the_callee_is_raised_again(stub):
    stub.status, stub.body = 409, {"detail": "None left.", "error": "OutOfWidgets"}

    with pytest.raises(OutOfWidgets, match="None left"):
        widgets(stub.url).post("things", {"n": 1})


def test_a_4xx_the_contract_does_not_describe_is_a_bug_not_an_outage(stub):
    stub.status, stub.body = 400, {"n": ["Not a number."]}

    with pytest.raises(RemoteCallRejected, match="answered 400"):
        widgets(stub.url).post("things", {"n": "x"})


def test_a_refused_service_token_is_an_outage_for_the_customer(stub):
    stub.status, stub.body = 401, {"detail": "Invalid service token."}

    with pytest.raises(WidgetsUnavailable):
        widgets(stub.url).get("things/4")

    assert len(stub.requests) == 1  # a wrong token does not heal by retrying


def test_a_refused_connection_is_the_contexts_retryable_error():
    with pytest.raises(WidgetsUnavailable):
        widgets(f"http://127.0.0.1:{free_port()}").get("things/5")


def test_a_deployment_that_never_answers_times_out_and_is_retried():
    with HangingServer() as hanging, pytest.raises(WidgetsUnavailable):
        widgets(f"http://{hanging.url_host}").get("things/6")

    assert hanging.accepted == 3


def test_a_context_without_a_url_is_unavailable():
    with override_settings(CONTEXT_URLS={}), pytest.raises(WidgetsUnavailable, match="WIDGETS_URL"):
        RemoteContext("widgets", unavailable=WidgetsUnavailable).get("things/7")
