"""Structured (JSON) log lines, each carrying the current correlation id.

``config/settings.py`` points LOGGING's formatter here; every stdlib logger
(Django's, Celery's, ours) and every structlog logger renders one JSON object
per line: ``{"event": ..., "level": ..., "logger": ..., "timestamp": ...,
"correlation_id": ..., <extra=...>}``. ``LOG_FORMAT=console`` renders the same
fields for humans.
"""

from __future__ import annotations

from typing import Any

import structlog

from contexts.kernel.correlation import current_correlation_id


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
    """The LOGGING formatter: one JSON object per line (``"()"`` it in a formatter)."""

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
