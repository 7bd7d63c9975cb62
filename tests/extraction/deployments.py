"""Deployments of the shop as real processes for the extraction tests.

``Deployment(name, contexts=..., env=...)`` is one deployment: its own
PostgreSQL database (``<main database>_extracted_<name>``, created fresh),
migrated with its ``SHOP_CONTEXTS``, and a gunicorn web process on a free port
of 127.0.0.1. ``start()`` returns once ``/health`` answers; ``stopped()`` is a
context manager that takes the web process down and brings it back.
``ServiceDeployment`` adds the deployment's Celery worker (no ``-Q``: the
queues its ``SHOP_CONTEXTS`` installs) and beat.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from django.conf import settings

from contexts.kernel.deployment import installed_contexts, kernel_queue
from contexts.kernel.testing import CeleryWorker, free_port, wait_for

#: Every deployment of a test signs and verifies customer tokens with this key.
JWT_SIGNING_KEY = "extraction-tests-shared-jwt-signing-key-0123456789"
SERVICE_TOKEN = "extraction-tests-service-token"


def main_database_url() -> str:
    """The database URL the suite was started with (``make test``'s TEST_DATABASE_URL)."""
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shop")


def database_url_for(name: str) -> str:
    parts = urlsplit(main_database_url())
    return urlunsplit(parts._replace(path=f"{parts.path}_extracted_{name}"))


def _admin_connection() -> psycopg.Connection:
    parts = urlsplit(main_database_url())
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def recreate_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Deployment:
    """One deployment: a database of its own and a gunicorn web process."""

    def __init__(
        self, name: str, *, contexts: str, directory: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.database_url = database_url_for(name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"{name}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SHOP_CONTEXTS": contexts,
            "DATABASE_URL": self.database_url,
            "DB_PER_CONTEXT": "0",
            # Each deployment has its own secret; only the JWT signing key is shared.
            "SECRET_KEY": f"extraction-tests-secret-of-{name}",
            "JWT_SIGNING_KEY": JWT_SIGNING_KEY,
            "SERVICE_TOKEN": SERVICE_TOKEN,
            "API_THROTTLE": "0",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def migrate(self) -> subprocess.Popen:
        """Create the database afresh and start ``manage.py migrate`` (wait on the result)."""
        recreate_database(self.database_url)
        return subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def start(self, *, timeout: float = 60.0) -> Deployment:
        command = [sys.executable, "-m", "gunicorn", "config.wsgi"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4"]
        # Idle keep-alive connections of the other deployment must not hold a stop up.
        command += ["--graceful-timeout", "5"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.logs()[-4000:]}")
            try:
                return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, timeout=timeout, interval=0.1, message=f"{self.name} did not start")
        return self

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The web process is down inside the block and serving again after it."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tables(self) -> set[str]:
        """Every table of the deployment's database (schema ``public``)."""
        with psycopg.connect(self.database_url) as connection:
            rows = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        return {row[0] for row in rows}

    def execute(self, sql: str, *params: object) -> None:
        """Run one statement on the deployment's database (arranging a test's state)."""
        with psycopg.connect(self.database_url) as connection:
            connection.execute(sql, params)  # type: ignore[arg-type]


def start_all(*deployments: Deployment) -> None:
    """Migrate every deployment's database side by side, then start each web process."""
    migrations = [(d, d.migrate()) for d in deployments]
    for deployment, process in migrations:
        output, _ = process.communicate(timeout=300)
        if process.returncode != 0:
            raise RuntimeError(f"migrate of {deployment.name} failed:\n{output.decode()[-4000:]}")
    for deployment in deployments:
        deployment.start()


@contextlib.contextmanager
def running(*deployments: ServiceDeployment, queues: Iterable[str] = ()) -> Iterator[None]:
    """``deployments`` up (databases migrated, web, worker, beat) inside the block, on
    clean queues (theirs and ``queues``); stopped, queues purged, databases dropped after."""
    from celery import current_app

    broker = current_app.conf.broker_url
    purged = [*(q for d in deployments for q in d.queues), *queues]
    purge_queues(broker, purged)
    started = time.monotonic()
    try:
        start_all(*deployments)
        for deployment in deployments:
            deployment.start_background()
        names = " and ".join(d.name for d in deployments)
        print(f"\n{names} deployments up in {time.monotonic() - started:.1f} s")
        yield
    finally:
        for deployment in reversed(deployments):
            deployment.stop_all()
        purge_queues(broker, purged)
        for deployment in deployments:
            drop_database(deployment.database_url)


#: The tables every deployment's database holds besides its contexts' own.
KERNEL_AND_DJANGO_PREFIXES = ("kernel_", "django_migrations", "django_content_type",
                              "django_session", "django_admin_log", "auth_")  # fmt: skip


def foreign_tables(deployment: Deployment, own: Iterable[str]) -> list[str]:
    """The tables of the deployment's database that are neither its contexts' (``own``:
    table name prefixes) nor the kernel's or Django's own."""
    prefixes = (*own, *KERNEL_AND_DJANGO_PREFIXES)
    return sorted(t for t in deployment.tables() if not t.startswith(prefixes))


def queues_of(contexts: str) -> list[str]:
    """The queues a worker of a deployment running ``contexts`` consumes without ``-Q``."""
    names = installed_contexts(contexts.split(","))
    return [kernel_queue(names), *names]


def purge_queues(broker_url: str, queues: Iterable[str]) -> None:
    """Drop every message of ``queues`` (and the unacked ones) from a Redis broker."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        client.delete("unacked", "unacked_index", "unacked_mutex", *queues)
    finally:
        client.close()


class ServiceDeployment(Deployment):
    """A deployment with its background processes too: a Celery worker started
    without ``-Q`` (so on the queues its ``SHOP_CONTEXTS`` installs) and beat."""

    def __init__(
        self,
        name: str,
        *,
        contexts: str,
        directory: Path,
        env: Mapping[str, str] | None = None,
        concurrency: int = 1,
    ) -> None:
        super().__init__(name, contexts=contexts, directory=directory, env=env)
        self.directory = directory
        self.queues = queues_of(contexts)
        self.concurrency = concurrency
        self.worker: CeleryWorker | None = None
        self.beat: subprocess.Popen | None = None
        self.beat_log_path = directory / f"{name}-beat.log"

    def start_background(self) -> None:
        worker = CeleryWorker(
            self.directory / f"{self.name}-worker",
            queues=self.queues,
            concurrency=self.concurrency,
            env=self.env,
        )
        worker.env["DB_PER_CONTEXT"] = "0"  # one database per deployment, in either mode
        self.worker = worker.start()
        command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
        command.append(f"--schedule={self.directory / (self.name + '-beat-schedule')}")
        with open(self.beat_log_path, "ab") as log:
            self.beat = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop_all(self) -> None:
        if self.beat is not None and self.beat.poll() is None:
            self.beat.send_signal(signal.SIGTERM)
            try:
                self.beat.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.beat.pid, signal.SIGKILL)
                self.beat.wait(timeout=10)
        if self.worker is not None:
            self.worker.stop()
        self.stop()

    def kill_web(self) -> None:
        """SIGKILL the web process: requests in flight get no reply."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def worker_logs(self) -> str:
        return self.worker.logs() if self.worker is not None else ""

    def beat_logs(self) -> str:
        try:
            return self.beat_log_path.read_text(errors="replace")
        except OSError:
            return ""

    def rows(self, sql: str, *params: object) -> list[tuple]:
        """The rows of one query on the deployment's database."""
        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]
