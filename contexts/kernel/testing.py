"""Test support: a real Celery worker process against the pytest-django test databases.

Usage (fixtures in the root ``conftest.py``; mark the test ``worker`` and
``django_db(transaction=True)``, since the worker only sees committed data)::

    @pytest.mark.worker
    @pytest.mark.django_db(transaction=True)
    def test_welcome(celery_worker):
        ...publish or call the API...
        wait_for(lambda: Notification.objects.count() == 1)

    def test_two_workers(start_celery_worker):
        a = start_celery_worker(concurrency=1, env={"EVENT_MAX_ATTEMPTS": "3"})
        b = start_celery_worker(queues=["orders"], beat=True)

``start_celery_worker(**options)`` accepts: ``queues`` (default: all),
``concurrency`` (1), ``beat`` (embed the beat scheduler: the sweeps run
every ``EVENT_SWEEP_SECONDS``), ``include`` (extra modules to import, e.g.
a test module declaring ``@subscribe`` handlers: the worker must import it to
know them), ``env`` (extra environment, e.g. ``EVENT_MAX_ATTEMPTS``). The
worker gets the test database URL (split mode included), the test broker, and
a file email backend whose messages ``worker.sent_emails()`` returns. Workers
are stopped (and the broker's queues emptied beforehand) by the fixture.

``wait_for(condition, timeout=...)`` polls a condition with a deadline: use it
instead of sleeping. ``HangingServer(port)`` is a TCP server that accepts
connections and never answers (a hung broker, SMTP server or database).
"""

from __future__ import annotations

import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from email.message import Message
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connections

T = TypeVar("T")

#: The file email backend separates messages with this line.
_EMAIL_SEPARATOR = "-" * 79


class ConditionNotMet(AssertionError):
    pass


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str = "",
) -> T:
    """Poll ``condition`` until it returns something truthy; return that value.

    Fails the test after ``timeout`` seconds. Database reads are made fresh on
    each poll (no stale connection state between polls).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ConditionNotMet(message or f"condition not met within {timeout}s")
        time.sleep(interval)


def database_url() -> str:
    """The URL of the test database pytest-django created for the default alias."""
    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("the worker fixture needs PostgreSQL test databases")
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def purge_broker() -> None:
    """Empty every queue of the test broker, including messages unacked by a killed worker."""
    app = current_app._get_current_object()
    app.control.purge()
    url = app.conf.broker_url or ""
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url)
        try:
            client.delete("unacked", "unacked_index", "unacked_mutex")
        finally:
            client.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (for a server a
    test starts as a subprocess, or an address where nothing must answer)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


class HangingServer:
    """A TCP server on ``127.0.0.1:port`` that accepts every connection and never answers.

    It stands for a peer that hangs (a broker stuck in failover, an SMTP server
    that never greets). Use it as a context manager; ``accepted`` counts the
    connections it took.
    """

    def __init__(self, port: int = 0) -> None:
        self.accepted = 0
        self._held: list[socket.socket] = []
        # Port 0: the system picks a free one, so parallel runs never collide.
        self._listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.port: int = self._listener.getsockname()[1]
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)  # kept open, never read from or written to
            self.accepted += 1

    def __enter__(self) -> HangingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for conn in self._held:
            conn.close()


class CeleryWorker:
    """One ``celery -A config worker`` process (prefork pool) for a test."""

    def __init__(
        self,
        directory: Path,
        *,
        queues: Iterable[str] | None = None,
        concurrency: int = 1,
        beat: bool = False,
        include: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        self.email_dir = directory / "emails"
        self.log_path = directory / f"{self.name}.log"
        self.email_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork",
            f"--hostname={self.name}@%h", "--without-gossip", "--without-mingle",
            "--without-heartbeat",
        ]  # fmt: skip
        if queues is None:
            queues = [queue.name for queue in settings.CELERY_TASK_QUEUES]
        command.append("--queues=" + ",".join(queues))
        if beat:
            command += ["--beat", f"--schedule={directory / (self.name + '-beat')}"]
        include = list(include)
        if include:
            command.append("--include=" + ",".join(include))
        self.command = command
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": current_app.conf.broker_url,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.email_dir),
            "CELERY_SKIP_CHECKS": "1",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        if settings.DB_PER_CONTEXT:
            self.env["DB_PER_CONTEXT"] = "1"
        self.process: subprocess.Popen | None = None

    def start(self, *, timeout: float = 60.0) -> CeleryWorker:
        """Start the process and wait until it answers a ping."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        app = current_app._get_current_object()

        def answers() -> bool:
            assert self.process is not None  # started just above
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.logs()[-4000:]}")
            return bool(
                app.control.ping(destination=[f"{self.name}@{os.uname().nodename}"], timeout=0.5)
            )

        try:
            wait_for(answers, timeout=timeout, interval=0.2)
        except ConditionNotMet:
            self.stop()
            raise ConditionNotMet(f"worker not ready:\n{self.logs()[-4000:]}") from None
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pool_pids(self) -> list[int]:
        """The prefork pool's child processes."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in children.split()]

    def stop(self, *, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM); SIGKILL the process group if it takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        finally:
            close_old_connections()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def sent_emails(self) -> list[Message]:
        """Every email the worker sent through the file backend, oldest first."""
        messages: list[Message] = []
        for path in sorted(self.email_dir.glob("*.log"), key=lambda p: p.stat().st_mtime):
            for chunk in path.read_text().split(_EMAIL_SEPARATOR):
                if chunk.strip():
                    messages.append(email.message_from_string(chunk.strip()))
        return messages
