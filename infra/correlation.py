"""The correlation id of the unit of work in progress.

Set at each entrypoint (the HTTP request's `X-Request-ID`, a consumed event's id, a task's label) and
carried along: into the `new_order` event, the consumer's log lines and the task's.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# What the unit of work in progress is about (`order_id`, `user_id`), as `infra.tracing.annotate`
# learns it: every log line of the unit carries these fields (infra/logs.py).
log_fields: ContextVar[dict[str, str | int] | None] = ContextVar("log_fields", default=None)
LOGGED_ATTRIBUTES = ("order_id", "user_id")

_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def accept_or_new(candidate: str | None) -> str:
    """`candidate` if it is a sane id (a client may send anything), otherwise a fresh one."""
    if candidate and _ACCEPTABLE.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex
