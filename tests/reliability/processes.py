"""Web and beat processes for the process-level tests, beside the worker fixture.

``WebProcess(directory, name)`` is ``gunicorn config.wsgi`` on a free port of
127.0.0.1 and ``BeatProcess(directory)`` is ``celery -A config beat``, both on
the test databases (split mode included) and the test broker, exactly like
the workers of ``contexts.kernel.testing.CeleryWorker``. Each logs to a file
in ``directory``; ``stop()`` is a warm shutdown (SIGTERM, then SIGKILL of the
process group).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from celery import current_app
from django.conf import settings

from contexts.kernel.testing import database_url, free_port, wait_for


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a process on the test databases and broker."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "DB_PER_CONTEXT": "1" if settings.DB_PER_CONTEXT else "0",
        "CELERY_BROKER_URL": current_app.conf.broker_url,
        "CELERY_SKIP_CHECKS": "1",
        "API_THROTTLE": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


class _Process:
    name = "process"

    def __init__(self, directory: Path, command: list[str], env: dict[str, str]) -> None:
        self.log_path = directory / f"{self.name}.log"
        self.command = command
        self.env = env
        self.process: subprocess.Popen | None = None

    def _spawn(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.logs()[-4000:]}")

    def stop(self, *, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class WebProcess(_Process):
    """``gunicorn config.wsgi`` (one worker, ``threads`` threads) on a free port."""

    def __init__(self, directory: Path, name: str, *, threads: int = 2, **env: str) -> None:
        self.name = f"web-{name}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi", f"--bind=127.0.0.1:{self.port}",
            "--workers=1", f"--threads={threads}", "--timeout=120",
            # Longer than any pause of a test's client: gunicorn closing an idle
            # kept-alive connection as the client reuses it fails that request.
            "--keep-alive=60",
        ]  # fmt: skip
        super().__init__(directory, command, process_env(**env))

    def start(self, *, timeout: float = 60.0) -> WebProcess:
        self._spawn()

        def serving() -> bool:
            self._check_alive()
            try:
                return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(serving, timeout=timeout, interval=0.2, message=f"{self.name} did not start")
        return self


class BeatProcess(_Process):
    """``celery -A config beat``: the periodic sweeps, as its own process."""

    name = "beat"

    def __init__(self, directory: Path, **env: str) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
            f"--schedule={directory / 'beat-schedule'}",
        ]  # fmt: skip
        super().__init__(directory, command, process_env(**env))

    def start(self, *, timeout: float = 60.0) -> BeatProcess:
        self._spawn()

        def ticking() -> bool:
            self._check_alive()
            return "beat: Starting" in self.logs() or "Scheduler: Sending" in self.logs()

        wait_for(ticking, timeout=timeout, interval=0.2, message="beat did not start")
        return self
