"""Logging setup shared by every process: JSON lines in containers, readable lines in a terminal.

Every record carries the correlation id of the unit of work it belongs to (the HTTP request's
`X-Request-ID`, carried through the `new_order` event into the consumer and the task), so one id
follows an order from the request to the worker's line. When tracing is on (infra/tracing.py), the
JSON lines also carry the current span's `trace_id` and `span_id`, which lead to the trace.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from opentelemetry import trace
from pythonjsonlogger import json
from pythonjsonlogger.core import RESERVED_ATTRS

from infra.correlation import correlation_id, log_fields
from infra.settings import AppSettings, LogFormat


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get() or "-"
        for key, value in (log_fields.get() or {}).items():
            if not hasattr(record, key):  # an explicit `extra=` wins
                setattr(record, key, value)
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True


class JsonFormatter(json.JsonFormatter):
    """One JSON object per line (python-json-logger): time, level, logger, message, correlation id,
    process, then every `extra=` field of the call (`order_id`, `user_id`, ...) and the trace ids."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}{correlation_id}{process}",
            style="{",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
            },
            # uvicorn's access and error lines carry a copy of the message with terminal colours.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"


class _OrdersHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that configuring again replaces it instead of adding a second one."""


# Loggers that servers and tools configure with handlers of their own; ours replace them, so that
# uvicorn's startup, access and error lines come out in the same format as every other line.
_THIRD_PARTY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")


def configure_logging(settings: AppSettings) -> None:
    """The one logging configuration of every process (API, consumer, worker, migrations).

    Idempotent: a second call (tests, several apps in one process) replaces the first handler.
    """
    handler = _OrdersHandler(sys.stderr)
    handler.addFilter(_CorrelationFilter())
    json_lines = settings.log_format is LogFormat.JSON or (
        settings.log_format is LogFormat.AUTO and not sys.stderr.isatty()
    )
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OrdersHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # One line per RabbitMQ outage comes from infra/amqp.py; aio-pika's robust connection would add
    # a warning per reconnection attempt (its errors, unexpected failures, still show).
    logging.getLogger("aio_pika.robust_connection").setLevel(logging.ERROR)
    logging.captureWarnings(True)
