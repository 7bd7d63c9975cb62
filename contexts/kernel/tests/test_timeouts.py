"""A hung broker cannot hang a web request after its commit.

The web process runs for real (gunicorn on the test databases) with a broker
URL pointing at a TCP server that accepts and never answers: a request that
publishes an event never talks to the broker (the workers' relay loops send
it), so it answers at once, and the committed event waits in the outbox.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings

from contexts.kernel.databases import database_for
from contexts.kernel.models import OutboxMessage
from contexts.kernel.testing import HangingServer, database_url, free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WEB_PORT = free_port()


def http(method: str, path: str, body: dict | None = None, *, timeout: float) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{WEB_PORT}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def start_web(tmp_path):
    """``start_web(env)`` -> a gunicorn process on WEB_PORT serving the test databases."""
    processes: list[subprocess.Popen] = []
    log_path = tmp_path / "web.log"

    def start(env: dict[str, str]) -> subprocess.Popen:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "DB_PER_CONTEXT": "1" if settings.DB_PER_CONTEXT else "0",
            "API_THROTTLE": "0",
            "CACHE_URL": "",
            **env,
        }
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi",
                 f"--bind=127.0.0.1:{WEB_PORT}", "--workers=1", "--timeout=300"],
                cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        processes.append(process)

        def serving() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"web exited:\n{log_path.read_text()[-3000:]}")
            try:
                return http("GET", "/health", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(serving, timeout=60, interval=0.2)
        return process

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.timeout(120)
def test_a_request_that_commits_an_event_answers_while_the_broker_hangs(start_web):
    with HangingServer() as broker:
        start_web({"CELERY_BROKER_URL": f"redis://{broker.url_host}/0"})
        email = f"hung-broker-{uuid.uuid4().hex[:8]}@example.com"

        # The client's own timeout is the bound: a request that relayed its own
        # events waited on the hung broker (up to its socket timeout, or forever
        # without one).
        status, body = http(
            "POST",
            "/api/users",
            {"email": email, "password": "a-long-Passw0rd!", "name": "Hung"},
            timeout=60,
        )

        assert status == 201, body
        assert broker.accepted == 0  # the request sent no broker message
    # The commit stands, and its event waits in the outbox for a relay.
    waiting = OutboxMessage.objects.using(database_for("users")).filter(
        published_at__isnull=True, event_name="users.UserRegistered"
    )
    assert waiting.count() == 1
