"""Domain errors mapped to GraphQL `extensions.code`: the table (derived from the one list of error
types, edge/errors.py), and the extension applying it.

Every error in a response carries a code a client can branch on, and `extensions.reason` where the
error names its cause (the same `code` and `reason` REST answers). Expected failures keep their message;
anything else is logged with its traceback and answered as `INTERNAL_SERVER_ERROR` with a fixed
message, so no stack trace, SQL or library text reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import GraphQLError
from pydantic import ValidationError
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, ErrorKind
from domain.ratelimit.budget import RateLimitExceeded
from edge.errors import (
    ERROR_TYPE_BY_KIND,
    INTERNAL_ERROR_MESSAGE,
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    VALIDATION_FAILED,
    ErrorCode,
    kind_of,
    reason_of,
    unavailable_message,
    validation_summary,
)

logger = logging.getLogger(__name__)

BAD_USER_INPUT = ErrorCode.BAD_USER_INPUT.value
SERVICE_UNAVAILABLE = ErrorCode.SERVICE_UNAVAILABLE.value
INTERNAL_SERVER_ERROR = ErrorCode.INTERNAL_SERVER_ERROR.value
# GraphQL's own codes, beside the shared ones: failures only a GraphQL document can have.
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
# An operation priced over GRAPHQL_MAX_COST (graph/cost.py), refused before it runs.
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

# The table: every kind of error the domain (or edge.errors) knows, as an `extensions.code`.
CODE_BY_KIND: dict[ErrorKind, str] = {
    kind: error_type.code.value for kind, error_type in ERROR_TYPE_BY_KIND.items()
}


class SubscriptionOverHttp(DomainError):
    """A subscription POSTed: it needs a connection that stays open."""

    kind = ErrorKind.BAD_INPUT
    reason = "SUBSCRIPTION_OVER_HTTP"

    def __init__(self) -> None:
        super().__init__(
            "Subscriptions run over WebSocket at /graphql (graphql-transport-ws), not over HTTP POST"
        )


class OperationOverLegacyWebSocket(DomainError):
    """A query or mutation sent over `graphql-ws`, whose `start` carries subscriptions only here."""

    kind = ErrorKind.BAD_INPUT
    reason = "OPERATION_OVER_LEGACY_WEBSOCKET"

    def __init__(self) -> None:
        super().__init__(
            "The graphql-ws protocol carries subscriptions only: send queries and mutations by "
            "POST /graphql, or over WebSocket with graphql-transport-ws"
        )


def _code_of(exc: BaseException) -> str | None:
    kind = kind_of(exc)
    return CODE_BY_KIND[kind] if kind is not None else None


def is_unexpected(error: GraphQLError) -> bool:
    """A bug rather than a client's mistake: it must be logged, and masked in the response.

    Errors without a path, raised by graphql-core itself, are the request's own (syntax, validation,
    a variable's value its type refuses); an error raised by a resolver or an extension is expected
    only when the table above knows its type.
    """
    if error.extensions and "code" in error.extensions:
        return False
    original = error.original_error
    if error.path is None and (original is None or isinstance(original, GraphQLError)):
        return False
    if original is None:
        # graphql-core's own field errors (e.g. null for a non-null field) are bugs of ours.
        return True
    return _code_of(original) is None


def _camel(part: str | int) -> str | int:
    if isinstance(part, int):
        return part
    head, *rest = part.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _validation_details(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A message summing up every problem, and the problems by location (camelCase, as in GraphQL)."""
    problems = [
        ([_camel(part) for part in err["loc"]], err["msg"], err["type"])
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    summary = validation_summary("Invalid input", ((loc, msg) for loc, msg, _ in problems))
    return summary, [{"loc": loc, "message": msg, "type": kind} for loc, msg, kind in problems]


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    original = error.original_error
    reason = reason_of(original) if original is not None else None
    if reason is not None:
        extensions = {"code": extensions["code"], "reason": reason, **extensions}
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def shape_error(error: GraphQLError) -> GraphQLError:
    """The error as a client sees it: the code from the table, the details it may know."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    if is_unexpected(error):
        return _with(error, INTERNAL_ERROR_MESSAGE, {"code": INTERNAL_SERVER_ERROR})
    code = _code_of(original) if original is not None else None
    if code is None:
        # The request's own, and not tagged at parse or validation: a variable's value did not fit.
        return _with(error, error.message, {"code": BAD_USER_INPUT, "reason": VALIDATION_FAILED})
    if isinstance(original, ValidationError):
        message, details = _validation_details(original)
        return _with(error, message, {"code": code, "errors": details})
    if isinstance(original, RateLimitExceeded):
        verdict = original.verdict
        extensions = {"code": code, "limit": verdict.limit, "retryAfter": verdict.retry_after}
        return _with(error, str(original), extensions)
    if code == SERVICE_UNAVAILABLE and original is not None:
        extensions = {"code": code, "retryAfter": UNAVAILABLE_RETRY_AFTER_SECONDS}
        return _with(error, unavailable_message(original), extensions)
    return _with(error, str(original), {"code": code})


def log_errors(errors: Sequence[GraphQLError]) -> None:
    """Log unexpected errors with their traceback (outages are logged briefly as they are shaped)."""
    for error in errors:
        original = error.original_error
        if is_unexpected(error):
            exc_info = (type(original), original, original.__traceback__) if original else None
            logger.error("GraphQL error at %s: %s", error.path, error.message, exc_info=exc_info)


def _tag(errors: Sequence[GraphQLError] | None, code: str) -> None:
    for error in errors or ():
        if not (error.extensions and "code" in error.extensions):
            error.extensions = {**(error.extensions or {}), "code": code}


class ErrorCodes(SchemaExtension):
    """Gives every error in the response its `extensions.code`, masking the unexpected ones."""

    def on_parse(self) -> Iterator[None]:
        yield
        _tag(self.execution_context.pre_execution_errors, GRAPHQL_PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        _tag(self.execution_context.pre_execution_errors, GRAPHQL_VALIDATION_FAILED)

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [shape_error(error) for error in result.errors]
