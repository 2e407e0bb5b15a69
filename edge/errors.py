"""What both interfaces need about errors: the kind of any exception, and the fixed messages.

The kinds come from the domain (domain/errors.py). Connection-level failures of PostgreSQL (refused,
timed out, pool exhausted, a primary shut down or demoted by a failover) are UNAVAILABLE, not bugs; a pydantic `ValidationError` of the domain's
input models is BAD_INPUT. Anything else has no kind: it is a bug, logged and masked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from domain.errors import DomainError, ErrorKind

UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly"
INTERNAL_ERROR_MESSAGE = "Internal server error"
# When a client may try again after an UNAVAILABLE answer (REST: Retry-After; GraphQL: retryAfter).
UNAVAILABLE_RETRY_AFTER_SECONDS = 2

logger = logging.getLogger(__name__)

_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError, OSError)

# What a server says while a primary goes away or moves (SQLSTATE): a connection failure (class 08),
# an administrator or crash shutdown, or still starting up (57P01-57P03); a read-only transaction
# (25006: a connection that reached a standby, or a primary demoted under it); too many connections.
_FAILOVER_SQLSTATE_PREFIXES = ("08", "57P", "25006", "53300")


def kind_of(exc: BaseException) -> ErrorKind | None:
    if isinstance(exc, DomainError):
        return exc.kind
    if isinstance(exc, ValidationError):
        return ErrorKind.BAD_INPUT
    if isinstance(exc, _UNAVAILABLE_ERRORS) or _database_away(exc):
        return ErrorKind.UNAVAILABLE
    return None


def _database_away(exc: BaseException) -> bool:
    """A database error that means "the primary is away or moving", not "this statement is wrong"
    (the asyncpg dialect raises most server errors as the generic `DBAPIError`)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_FAILOVER_SQLSTATE_PREFIXES)


def unavailable_message(exc: BaseException) -> str:
    """What a client is told of an UNAVAILABLE error, which is logged here: the domain's own
    message, or a fixed one for a database failure (its text may hold SQL)."""
    if isinstance(exc, DomainError):
        logger.warning("unavailable: %s", exc)
        return str(exc)
    logger.error("database unavailable: %s", exc)
    return UNAVAILABLE_MESSAGE


def validation_summary(prefix: str, problems: Iterable[tuple[Sequence[str | int], str]]) -> str:
    """One line naming every problem: `"<prefix>: items.0.price: <msg>; ..."`."""
    lines = [
        f"{'.'.join(str(part) for part in loc)}: {msg}" if loc else msg for loc, msg in problems
    ]
    return f"{prefix}: {'; '.join(lines)}"
