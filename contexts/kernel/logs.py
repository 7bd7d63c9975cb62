"""Structured log lines: JSON by default, each carrying the current correlation id.

``config/settings.py`` points LOGGING's formatter here; every stdlib logger
(Django's, Celery's, ours) and every structlog logger renders one JSON object
per line: ``{"event": ..., "level": ..., "logger": ..., "timestamp": ...,
"correlation_id": ..., <extra=...>}``. ``LOG_FORMAT=console`` renders the same
fields for humans.

django-structlog writes the access line of every request (its
``RequestMiddleware``: ``request_finished``, or ``request_failed`` for an
unhandled exception) and of every Celery task (``task_succeeded`` or
``task_failed``, by the worker step in ``config/celery.py``). The receivers
below give those lines the fields an operator filters on: ``method``,
``path``, ``status``, ``duration_ms`` and ``user_id`` for a request, ``task``,
``task_id`` and ``duration_ms`` for a task. The correlation id is ours
(``contexts.kernel.correlation``), so django-structlog's own ``request_id``,
a second random id per request, is dropped.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.dispatch import receiver
from django_structlog import signals as request_signals
from django_structlog.celery import signals as task_signals

from contexts.kernel.correlation import current_correlation_id

_STARTED_AT = "_access_log_started_ns"
#: What a task's log context inherits from the code that sent it.
_INHERITED_BY_TASKS = ("user_id", "parent_task_id")


def add_correlation_id(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict:
    """structlog processor: the current correlation id, unless the line already has one."""
    event_dict.setdefault("correlation_id", current_correlation_id() or "-")
    return event_dict


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_correlation_id,
    ]


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """The LOGGING formatter: one JSON object per line, or ``renderer="console"``."""

    def __init__(self, *, renderer: str = "json", **kwargs: Any) -> None:
        final = (
            structlog.dev.ConsoleRenderer(colors=False)
            if renderer == "console"
            else structlog.processors.JSONRenderer()
        )
        super().__init__(
            foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                final,
            ],
            **kwargs,
        )


def configure_structlog() -> None:
    """Route structlog's own loggers through stdlib logging (and so through LOGGING)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _elapsed_ms(started_ns: int | None) -> float | None:
    if started_ns is None:
        return None
    return round((time.monotonic_ns() - started_ns) / 1_000_000, 1)


def _request_fields(request: Any, status: int) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "status": status,
        "duration_ms": _elapsed_ms(getattr(request, _STARTED_AT, None)),
    }


@receiver(request_signals.bind_extra_request_metadata, dispatch_uid="kernel.logs.start")
def _start_request(request: Any, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    setattr(request, _STARTED_AT, time.monotonic_ns())
    structlog.contextvars.unbind_contextvars("request_id")


@receiver(request_signals.bind_extra_request_finished_metadata, dispatch_uid="kernel.logs.end")
def _finish_request(request: Any, response: Any, log_kwargs: dict[str, Any], **kwargs: Any):
    # "request" ("GET /path?query") and "code" become separate, filterable fields.
    log_kwargs.pop("request", None)
    log_kwargs.pop("code", None)
    log_kwargs.update(_request_fields(request, response.status_code))


@receiver(request_signals.bind_extra_request_failed_metadata, dispatch_uid="kernel.logs.fail")
def _fail_request(request: Any, log_kwargs: dict[str, Any], **kwargs: Any) -> None:
    log_kwargs.pop("request", None)
    log_kwargs.pop("code", None)
    log_kwargs.update(_request_fields(request, 500))


@receiver(task_signals.bind_extra_task_metadata, dispatch_uid="kernel.logs.task")
def _bind_task_name(task: Any = None, **kwargs: Any) -> None:
    # The outcome line (task_succeeded / task_failed) names the task, not only its id.
    if task is not None:
        structlog.contextvars.bind_contextvars(task=task.name)


@receiver(task_signals.modify_context_before_task_publish, dispatch_uid="kernel.logs.publish")
def _keep_task_context_small(context: dict[str, Any], **kwargs: Any) -> None:
    # A task inherits who caused it, not the sender's whole context (its task name, ...).
    kept = {key: context[key] for key in _INHERITED_BY_TASKS if key in context}
    context.clear()
    context.update(kept)
