"""``RemoteContext``: the HTTP client a context's remote adapter calls its internal API with.

One instance per context (``contexts/<context>/remote.py``) sends requests to
``<CONTEXT>_URL`` + ``/internal/v1/<context>/``:

- ``Authorization: Service <first SERVICE_TOKEN>``, and ``X-Request-ID`` with
  the current correlation id, so the callee's log lines and events carry it;
- every attempt gives up after ``INTERNAL_API_TIMEOUT_SECONDS``;
- a call that changes nothing (``get``), or a write sent with an idempotency
  key (``post(..., idempotency_key=...)``, as ``Idempotency-Key``), is retried
  ``INTERNAL_API_RETRIES`` times on a transport failure (refused, reset,
  timeout) or a 5xx, with a short backoff; a write without a key is sent once;
- when no attempt got an answer, the context's own retryable error (the
  ``unavailable`` type the adapter names, declared in its contracts) is raised:
  the caller handles a remote outage exactly as it already handles that error;
- 404 answers ``None`` (the contract's "there is none"); another 4xx whose body
  names an error of the contract (``"error": "OutOfStock"``) raises that error
  with the callee's detail; 401/403 (this deployment's token refused) is logged
  and raised as ``unavailable`` too: it is the operator's to fix, not the customer's.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from django.conf import settings

from contexts.kernel.correlation import REQUEST_ID_HEADER, get_correlation_id
from contexts.kernel.deployment import url_variable
from contexts.kernel.errors import DomainError

logger = logging.getLogger(__name__)

API_PREFIX = "/internal/v1"
#: The ``Authorization`` scheme between services (``contexts.kernel.remote.auth`` checks it).
KEYWORD = "Service"
_BACKOFF_SECONDS = 0.1

_local = threading.local()


def _http() -> httpx.Client:
    """This process's (and thread's) connection pool: never shared across a fork."""
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != os.getpid():
        client = httpx.Client(headers={"Accept": "application/json"})
        _local.client, _local.pid = client, os.getpid()
    return client


def close_connections() -> None:
    """Close this thread's pooled connections to other deployments (tests, shutdown)."""
    client = getattr(_local, "client", None)
    if client is not None:
        client.close()
        _local.client = None


class RemoteCallRejected(RuntimeError):
    """The callee refused a call in a way the contract does not describe (a bug on one side)."""


class RemoteContext:
    """The internal API of ``context`` at ``<CONTEXT>_URL``."""

    def __init__(
        self,
        context: str,
        *,
        unavailable: type[DomainError],
        errors: Iterable[type[DomainError]] = (),
        base_url: str | None = None,
    ) -> None:
        self.context = context
        self.unavailable = unavailable
        self.errors = {error.__name__: error for error in errors}
        self._base_url = base_url

    @property
    def base_url(self) -> str:
        url = self._base_url or settings.CONTEXT_URLS.get(self.context, "")
        if not url:
            raise self.unavailable(f"{url_variable(self.context)} is not set.")
        return f"{url.rstrip('/')}{API_PREFIX}/{self.context}/"

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any | None:
        """GET ``path`` (retried); the JSON answer, or None for a 404.

        ``timeout`` replaces ``INTERNAL_API_TIMEOUT_SECONDS`` for a call the callee
        may legitimately take longer to answer (it waits on a third party)."""
        return self._call("GET", path, params=params, retry=True, timeout=timeout)

    def post(
        self,
        path: str,
        body: Any,
        *,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Any | None:
        """POST JSON ``body``; retried only when ``idempotency_key`` makes a repeat harmless."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call(
            "POST",
            path,
            json=body,
            headers=headers,
            retry=bool(idempotency_key),
            timeout=timeout,
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        retry: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any | None:
        url = self.base_url + path.lstrip("/")
        attempts = 1 + (max(0, settings.INTERNAL_API_RETRIES) if retry else 0)
        token = settings.SERVICE_TOKENS[0] if settings.SERVICE_TOKENS else ""
        sent_headers = {
            "Authorization": f"{KEYWORD} {token}",
            REQUEST_ID_HEADER: get_correlation_id(),
            **(headers or {}),
        }
        failure = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                response = _http().request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=sent_headers,
                    timeout=timeout or settings.INTERNAL_API_TIMEOUT_SECONDS,
                )
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500:
                failure = f"HTTP {response.status_code}"
                continue
            return self._answer(method, url, response)
        logger.warning(
            "internal call failed",
            extra={"context": self.context, "method": method, "url": url, "failure": failure},
        )
        raise self.unavailable(f"The {self.context} service is unavailable; try again shortly.")

    def _answer(self, method: str, url: str, response: httpx.Response) -> Any | None:
        status = response.status_code
        if status == 204:
            return None
        if status < 400:
            return response.json()
        if status == 404:
            return None
        if status in (401, 403):
            logger.error(
                "internal call refused: check SERVICE_TOKEN on both deployments",
                extra={"context": self.context, "method": method, "url": url, "status": status},
            )
            raise self.unavailable(f"The {self.context} service is unavailable; try again shortly.")
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = self.errors.get(str(body.get("error", ""))) if isinstance(body, dict) else None
        if error is not None:
            raise error(str(body.get("detail", "")))
        raise RemoteCallRejected(f"{method} {url} answered {status}: {response.text[:500]}")
