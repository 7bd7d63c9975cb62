"""One access line per request, with the fields an operator filters on (contexts/kernel/logs.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.urls import path

from contexts.kernel.logs import JsonFormatter

pytestmark = pytest.mark.django_db


def boom(request):
    """A view failing with an exception nothing handles."""
    raise RuntimeError("boom for the access log")


urlpatterns = [path("test-only/boom", boom)]


class LogLines:
    """The JSON lines that the root logger rendered while the test ran."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def named(self, *events: str) -> list[dict]:
        return [line for line in self.all() if line.get("event") in events]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """Capture what the LOGGING formatter renders (the same JSON a deployment prints)."""
    lines = LogLines()
    handler = logging.StreamHandler(lines.stream)
    handler.setFormatter(JsonFormatter(renderer="json"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


ACCESS_EVENTS = ("request_started", "request_finished", "request_failed")


def test_a_request_writes_exactly_one_access_line_with_user_and_correlation_id(
    auth_client, user, log_lines
):
    response = auth_client.get("/api/users/me", HTTP_X_REQUEST_ID="req-access-1")

    assert response.status_code == 200
    [line] = log_lines.named(*ACCESS_EVENTS)
    assert line["event"] == "request_finished"
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["path"] == "/api/users/me"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["user_id"] == str(user.pk)
    assert line["correlation_id"] == "req-access-1"
    # One id per request: django-structlog's own random request_id is not added.
    assert "request_id" not in line
    assert "request" not in line


def test_an_anonymous_refused_request_logs_its_status_and_generated_correlation_id(
    api_client, log_lines
):
    response = api_client.get("/api/users/me?page=2")

    assert response.status_code == 401
    [line] = log_lines.named(*ACCESS_EVENTS)
    assert line["event"] == "request_finished"
    assert line["level"] == "warning"
    assert line["status"] == 401
    assert line["path"] == "/api/users/me"
    assert line["user_id"] is None
    assert line["correlation_id"] == response["X-Request-ID"]


def test_a_body_refused_before_the_view_still_gets_its_access_line(api_client, log_lines):
    oversized = '{"name": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'

    response = api_client.post("/api/users", oversized, content_type="application/json")

    assert response.status_code == 413
    [line] = log_lines.named(*ACCESS_EVENTS)
    assert line["status"] == 413
    assert line["method"] == "POST"
    assert line["correlation_id"] == response["X-Request-ID"]


@pytest.mark.urls(__name__)
def test_an_unhandled_exception_writes_one_failure_line_with_status_500(log_lines):
    client = Client(raise_request_exception=False, HTTP_X_REQUEST_ID="req-boom")

    response = client.get("/test-only/boom")

    assert response.status_code == 500
    [line] = log_lines.named(*ACCESS_EVENTS)
    assert line["event"] == "request_failed"
    assert line["level"] == "error"
    assert line["status"] == 500
    assert line["path"] == "/test-only/boom"
    assert line["correlation_id"] == "req-boom"
    assert "boom for the access log" in line["exception"]
