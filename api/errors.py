"""Domain errors mapped to HTTP answers: the one table, and the handlers that apply it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.ratelimit import rate_limit_headers
from api.schemas import ErrorBody
from domain.orders.errors import (
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidStatusTransition,
    OrderListForbidden,
    OrderNotFound,
)
from domain.users.errors import EmailAlreadyRegistered, InvalidCredentials, InvalidToken
from infra.ratelimit import RateLimitExceeded

logger = logging.getLogger(__name__)

DOMAIN_ERROR_STATUS: dict[type[Exception], int] = {
    EmailAlreadyRegistered: status.HTTP_409_CONFLICT,
    InvalidCredentials: status.HTTP_401_UNAUTHORIZED,
    InvalidToken: status.HTTP_401_UNAUTHORIZED,
    OrderNotFound: status.HTTP_404_NOT_FOUND,
    InvalidStatusTransition: status.HTTP_409_CONFLICT,
    OrderListForbidden: status.HTTP_403_FORBIDDEN,
    InvalidCursor: status.HTTP_422_UNPROCESSABLE_CONTENT,
    IdempotencyKeyReused: status.HTTP_422_UNPROCESSABLE_CONTENT,
}

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def error_response(
    status_code: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    status_code = DOMAIN_ERROR_STATUS[type(exc)]
    headers = _BEARER_CHALLENGE if status_code == status.HTTP_401_UNAUTHORIZED else None
    return error_response(status_code, str(exc), headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()
    ]
    summary = "; ".join(
        f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in errors
    )
    body = ErrorBody(detail=f"Invalid request: {summary}", errors=errors)
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


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimitExceeded)
    headers = {**rate_limit_headers(exc.verdict), "Retry-After": str(exc.verdict.retry_after)}
    return error_response(status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", exc)
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "The database is unavailable; try again shortly",
        {"Retry-After": "2"},
    )


_INTERNAL_ERROR = "Internal server error"
# Starlette answers an unhandled exception outside every middleware, so the edge's headers are not
# on this answer: it carries its own.
_INTERNAL_ERROR_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the client gets a fixed message in the usual shape; the details go to the log only."""
    logger.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR, _INTERNAL_ERROR, _INTERNAL_ERROR_HEADERS
    )


def install_error_handlers(app: FastAPI) -> None:
    for error_type in DOMAIN_ERROR_STATUS:
        app.add_exception_handler(error_type, _domain_error)
    app.add_exception_handler(RateLimitExceeded, _rate_limited)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Connection-level failures (refused, timed out, pool exhausted) mean "down", not "bug".
    for error_type in (OperationalError, InterfaceError, PoolTimeoutError, OSError):
        app.add_exception_handler(error_type, _database_unavailable)
    # Anything else is a bug; never Starlette's plain-text page (or, in debug, its traceback).
    app.add_exception_handler(Exception, _unexpected)
