"""What both interfaces need about errors: the one list of error types, the kind and reason of any
exception, and the fixed messages.

`ERROR_TYPES` is the one list: each type's `code` is REST's Problem Details `code` and GraphQL's
`extensions.code` alike, and it names every `reason` a client may see with it (REST `reason`,
GraphQL `extensions.reason`). REST derives its statuses, titles and `/problems/…` pages from it
(api/errors.py, api/problems.py), GraphQL its codes (graph/errors.py); tests/unit/test_error_vocabulary.py
fails when an error, a kind or a reason is missing from it or from either interface.

The kinds come from the domain (domain/errors.py). Connection-level failures of PostgreSQL (refused,
timed out, pool exhausted, a primary shut down or demoted by a failover) are UNAVAILABLE, not bugs;
a pydantic `ValidationError` of the domain's input models is BAD_INPUT. Anything else has no kind: it is a bug, logged and masked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

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


class ErrorCode(StrEnum):
    """The codes both interfaces answer: REST `code`, GraphQL `extensions.code`."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    BAD_REQUEST = "BAD_REQUEST"
    RATE_LIMITED = "RATE_LIMITED"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


# Reasons the interfaces give themselves (the domain's are on its errors, domain/**/errors.py).
VALIDATION_FAILED = "VALIDATION_FAILED"
MALFORMED_JSON = "MALFORMED_JSON"
MALFORMED_BODY = "MALFORMED_BODY"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
BODY_TOO_LARGE = "BODY_TOO_LARGE"
HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
UNKNOWN_PATH = "UNKNOWN_PATH"
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class ErrorType:
    """One code as both interfaces answer it, and what it means to a client."""

    code: ErrorCode
    # The domain kind answered with this code; None for the interfaces' own (a malformed body, a bug).
    kind: ErrorKind | None
    # Fixed per code: REST's `title`, the heading of its `/problems/…` page.
    title: str
    meaning: str
    # What a client should do about it.
    advice: str
    # Every reason that may come with this code, and when.
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The name of its page, `/problems/<slug>`: the code in lower case, with dashes."""
        return self.code.lower().replace("_", "-")


ERROR_TYPES: tuple[ErrorType, ...] = (
    ErrorType(
        ErrorCode.UNAUTHENTICATED,
        ErrorKind.UNAUTHENTICATED,
        "Not authenticated",
        "The request needs a valid bearer token, or the email and password did not match an account.",
        "Get a token from `POST /token` (or the `token` mutation) and send it as "
        "`Authorization: Bearer <token>`; after TOKEN_EXPIRED, log in again.",
        {
            "NOT_AUTHENTICATED": "No bearer token was sent.",
            "INVALID_TOKEN": "The token is malformed, or not signed by this service.",
            "TOKEN_EXPIRED": "The token has expired.",
            "INVALID_CREDENTIALS": "Unknown email or wrong password (deliberately indistinguishable).",
            "ACCOUNT_GONE": "The token's account no longer exists.",
        },
    ),
    ErrorType(
        ErrorCode.FORBIDDEN,
        ErrorKind.FORBIDDEN,
        "Forbidden",
        "You are signed in, but this is not yours to see or change.",
        "Do not retry: ask for your own resources.",
        {
            "NOT_OWNER": "A customer may list and search only their own orders.",
            "STAFF_ONLY": "The operation needs a staff account and a token with the "
            "`orders:manage` scope.",
            "STAFF_ONLY_MOVE": "With CUSTOMER_STATUS_CHANGES=cancel only staff pay and ship; "
            "customers may cancel their own PENDING orders.",
        },
    ),
    ErrorType(
        ErrorCode.NOT_FOUND,
        ErrorKind.NOT_FOUND,
        "Not found",
        "Nothing is there for you: an unknown id, another user's resource (the two are "
        "indistinguishable), or a path this API does not serve.",
        "Check the id or the path; do not retry as is.",
        {
            "ORDER_NOT_FOUND": "No such order of yours.",
            UNKNOWN_PATH: "No route serves this path (REST).",
            "UNKNOWN_USER": "No account has this email.",
            "WEBHOOK_NOT_FOUND": "No such webhook of yours.",
            "WEBHOOK_DELIVERY_NOT_FOUND": "No such delivery of your webhook.",
        },
    ),
    ErrorType(
        ErrorCode.CONFLICT,
        ErrorKind.CONFLICT,
        "Conflict",
        "The request contradicts the current state of a resource.",
        "Read the resource again; change the request (another email, another status) rather than "
        "retrying it as is.",
        {
            "EMAIL_TAKEN": "An account with this email (in any letter case) exists.",
            "INVALID_TRANSITION": "The status rules forbid this move (PENDING → PAID | CANCELED, "
            "PAID → SHIPPED | CANCELED).",
            "DELIVERY_NOT_FAILED": "Only a failed webhook delivery can be sent again.",
        },
    ),
    ErrorType(
        ErrorCode.BAD_USER_INPUT,
        ErrorKind.BAD_INPUT,
        "Invalid input",
        "The request is well-formed, but a value in it is not acceptable.",
        "Fix the values named in `errors` (REST) or `extensions.errors` (GraphQL), then send again.",
        {
            VALIDATION_FAILED: "A field is missing or its value is invalid; `errors` names each one.",
            "IDEMPOTENCY_KEY_REUSED": "This Idempotency-Key already created an order from a "
            "different request: use a new key for a new order.",
            "INVALID_CURSOR": "The pagination cursor was not produced by this service.",
            "INVALID_SCOPE": "A token was asked for a scope the account does not have (REST: 400, "
            "OAuth2 `invalid_scope`).",
            "WEBHOOK_TARGET_REFUSED": "The webhook URL breaks a rule against server-side request "
            "forgery (the message names the rule).",
            "PERSISTED_QUERY_REFUSED": "The persisted query's hash or document is unacceptable "
            "(GraphQL).",
            "SUBSCRIPTION_OVER_HTTP": "A subscription was sent over HTTP; subscriptions run over "
            "WebSocket (GraphQL).",
            "OPERATION_OVER_LEGACY_WEBSOCKET": "A query or mutation was sent over `graphql-ws`, "
            "which carries subscriptions only (GraphQL).",
        },
    ),
    ErrorType(
        ErrorCode.BAD_REQUEST,
        ErrorKind.BAD_REQUEST,
        "Bad request",
        "The request itself could not be read or the protocol refuses it: its body is not valid "
        "JSON (or form data), its media type is not one the operation takes, it is too large, "
        "the method is not served.",
        "Fix the request (its syntax, `Content-Type`, size or method); sending it again as is "
        "will fail the same way.",
        {
            MALFORMED_JSON: "The body is not valid JSON (400).",
            MALFORMED_BODY: "The body could not be decoded (400).",
            UNSUPPORTED_MEDIA_TYPE: "The body's `Content-Type` is not the one the operation "
            "takes: `application/json`, or form data for `/token` (415).",
            BODY_TOO_LARGE: "The body is over the size limit, MAX_BODY_BYTES (413).",
            HEADERS_TOO_LARGE: "The request line and headers are over 16 KB (431), refused by "
            "the server before the app reads them.",
            METHOD_NOT_ALLOWED: "The path does not serve this method; `Allow` lists those it "
            "does (405).",
        },
    ),
    ErrorType(
        ErrorCode.RATE_LIMITED,
        ErrorKind.RATE_LIMITED,
        "Too many requests",
        "You have used up a rate limit, or hold as many live subscriptions as allowed.",
        "Wait `retry_after` seconds (the `Retry-After` header; GraphQL `extensions.retryAfter`) "
        "before sending again; close a subscription before opening another.",
        {
            "TOO_MANY_REQUESTS": "A rate limit's window is used up.",
            "TOO_MANY_SUBSCRIPTIONS": "Too many live subscriptions at once "
            "(LIVE_MAX_SUBSCRIPTIONS_PER_USER).",
        },
    ),
    ErrorType(
        ErrorCode.PRECONDITION_FAILED,
        ErrorKind.PRECONDITION_FAILED,
        "Precondition failed",
        "The version you expected (`If-Match`, `expectedVersion`) is no longer current: someone "
        "changed the resource since you read it. Nothing was changed.",
        "Read the resource again (REST: the answer's `ETag` is the current version), decide again, "
        "and retry with the new version.",
        {"VERSION_MISMATCH": "The order's current version differs from the expected one."},
    ),
    ErrorType(
        ErrorCode.SERVICE_UNAVAILABLE,
        ErrorKind.UNAVAILABLE,
        "Service unavailable",
        "A dependency cannot serve the request right now. Nothing was changed.",
        "Retry after `retry_after` seconds (the `Retry-After` header; GraphQL "
        "`extensions.retryAfter`), with the same Idempotency-Key for a new order.",
        {
            DATABASE_UNAVAILABLE: "PostgreSQL is unreachable or its connections are all busy.",
            "CACHE_UNAVAILABLE": "The order cache (Redis) is unreachable, so a change cannot be "
            "made safely.",
            "LOGIN_QUEUE_FULL": "Too many password checks are already waiting.",
        },
    ),
    ErrorType(
        ErrorCode.INTERNAL_SERVER_ERROR,
        None,
        "Internal server error",
        "A bug of this service. The answer says nothing more; the details are in the service's "
        "log under the request id.",
        "Report it with the `request_id` (REST) or the `X-Request-ID` header; retrying may not help.",
    ),
)

ERROR_TYPE_BY_CODE: dict[ErrorCode, ErrorType] = {error.code: error for error in ERROR_TYPES}
ERROR_TYPE_BY_KIND: dict[ErrorKind, ErrorType] = {
    error.kind: error for error in ERROR_TYPES if error.kind is not None
}


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


def reason_of(exc: BaseException) -> str | None:
    """The cause of an error of a known kind, when it names one."""
    if isinstance(exc, DomainError):
        return exc.reason
    if isinstance(exc, ValidationError):
        return VALIDATION_FAILED
    if isinstance(exc, _UNAVAILABLE_ERRORS) or _database_away(exc):
        return DATABASE_UNAVAILABLE
    return None


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
