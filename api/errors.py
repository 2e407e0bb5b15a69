"""Domain errors mapped to HTTP answers: the one table, and the handlers that apply it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.etags import etag
from api.schemas import ErrorBody
from domain.errors import DomainError, ErrorKind, RateLimitExceeded
from domain.orders.errors import OrderVersionMismatch
from domain.users.errors import InvalidScope
from edge.errors import (
    INTERNAL_ERROR_MESSAGE,
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    kind_of,
    unavailable_message,
    validation_summary,
)
from edge.ratelimit import rejection_headers
from edge.security import SECURITY_HEADERS, STRICT_CSP

logger = logging.getLogger(__name__)

# The one table: every kind of error the domain (or edge.errors) knows, as an HTTP status.
STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorKind.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorKind.UNAUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorKind.BAD_INPUT: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorKind.BAD_REQUEST: status.HTTP_400_BAD_REQUEST,
    ErrorKind.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorKind.PRECONDITION_FAILED: status.HTTP_412_PRECONDITION_FAILED,
    ErrorKind.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def error_response(
    status_code: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    oauth_error: str | None = None,
) -> JSONResponse:
    body = ErrorBody(detail=detail, error=oauth_error).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=headers)


def known_error_response(exc: Exception) -> JSONResponse | None:
    """The answer to an error of a known kind (None for a bug), wherever it was raised."""
    kind = kind_of(exc)
    if kind is None:
        return None
    status_code = STATUS_BY_KIND[kind]
    if kind is ErrorKind.UNAVAILABLE:
        retry_after = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
        return error_response(status_code, unavailable_message(exc), retry_after)
    if isinstance(exc, RateLimitExceeded):
        return error_response(status_code, str(exc), rejection_headers(exc))
    if isinstance(exc, OrderVersionMismatch):
        # The version to read (or to retry with, after a fresh read).
        return error_response(status_code, str(exc), {"ETag": etag(exc.current_version)})
    if isinstance(exc, InvalidScope):
        return error_response(status_code, str(exc), oauth_error=exc.oauth_error)
    headers = _BEARER_CHALLENGE if kind is ErrorKind.UNAUTHENTICATED else None
    return error_response(status_code, str(exc), headers)


async def _known_error(request: Request, exc: Exception) -> JSONResponse:
    response = known_error_response(exc)
    return response if response is not None else await _unexpected(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()
    ]
    summary = validation_summary("Invalid request", ((err["loc"], err["msg"]) for err in errors))
    body = ErrorBody(detail=summary, errors=errors)
    return JSONResponse(body.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers = {**(headers or {}), "Allow": _allowed_methods(request)}
    return error_response(exc.status_code, str(exc.detail), headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. One path's GET and PATCH are separate routes,
    and the 405 Starlette raises names only the methods of the first route it tried."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


# Starlette answers an unhandled exception outside every middleware, so the edge's headers are not
# on this answer: it carries its own.
_INTERNAL_ERROR_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": STRICT_CSP,
    "Cache-Control": "no-store",
}


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the client gets a fixed message in the usual shape; the details go to the log only."""
    logger.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR_MESSAGE, _INTERNAL_ERROR_HEADERS
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _known_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Connection-level failures (refused, timed out, pool exhausted) mean "down", not "bug"; other
    # driver errors are looked at by edge.errors.kind_of (a failover's shutdown or read-only errors).
    for error_type in (OperationalError, InterfaceError, PoolTimeoutError, OSError, DBAPIError):
        app.add_exception_handler(error_type, _known_error)
    # Anything else is a bug; never Starlette's plain-text page (or, in debug, its traceback).
    app.add_exception_handler(Exception, _unexpected)
