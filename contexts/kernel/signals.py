"""Carry the correlation id through every Celery task, not only event deliveries.

A task sent while a correlation id is current gets it in a message header; the
worker makes it current while the task runs (and a fresh one for a task sent
without), then restores the previous value, so one task's id never leaks into
the next task run by the same worker process.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from contexts.kernel.correlation import (
    current_correlation_id,
    new_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from contexts.kernel.relay import CORRELATION_HEADER

_tokens: dict[str, Any] = {}


@signals.before_task_publish.connect(dispatch_uid="kernel.correlation.publish")
def _attach_correlation_id(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is None or headers.get(CORRELATION_HEADER):
        return
    current = current_correlation_id()
    if current:
        headers[CORRELATION_HEADER] = current


@signals.task_prerun.connect(dispatch_uid="kernel.correlation.prerun")
def _restore_correlation_id(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    value = getattr(task.request, CORRELATION_HEADER, None) if task is not None else None
    _tokens[task_id or ""] = set_correlation_id(value or new_correlation_id())


@signals.task_postrun.connect(dispatch_uid="kernel.correlation.postrun")
def _forget_correlation_id(task_id: str | None = None, **kwargs: Any) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        reset_correlation_id(token)
