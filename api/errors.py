"""The handlers that answer every REST error, raised by the domain, the framework or a bug, as
Problem Details (api/problem_details.py)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Scope

from api.etags import etag
from api.problem_details import (
    FRAMEWORK_STATUS_BY_REASON,
    STATUS_BY_CODE,
    problem_response,
)
from domain.errors import DomainError, ErrorKind
from domain.orders.errors import OrderVersionMismatch
from domain.ratelimit.budget import RateLimitExceeded
from edge.errors import (
    ERROR_TYPE_BY_KIND,
    INTERNAL_ERROR_MESSAGE,
    MALFORMED_BODY,
    MALFORMED_JSON,
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    UNKNOWN_PATH,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ErrorCode,
    kind_of,
    reason_of,
    unavailable_message,
    validation_summary,
)
from edge.ratelimit import rejection_headers
from edge.scope import REQUEST_ID
from edge.security import SECURITY_HEADERS, STRICT_CSP

logger = logging.getLogger(__name__)

# The errors Starlette and FastAPI raise themselves, by status.
_FRAMEWORK_ERRORS: dict[int, tuple[ErrorCode, str | None]] = {
    status.HTTP_400_BAD_REQUEST: (ErrorCode.BAD_REQUEST, MALFORMED_BODY),
    status.HTTP_404_NOT_FOUND: (ErrorCode.NOT_FOUND, UNKNOWN_PATH),
    **{
        code: (ErrorCode.BAD_REQUEST, reason) for reason, code in FRAMEWORK_STATUS_BY_REASON.items()
    },
}

_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as the answer lists them: one per invalid field."""
    return [
        {"loc": list(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in errors
    ]


def known_error_response(exc: Exception, scope: Scope) -> JSONResponse | None:
    """The answer to an error of a known kind (None for a bug), wherever it was raised."""
    kind = kind_of(exc)
    if kind is None:
        return None
    code = ERROR_TYPE_BY_KIND[kind].code
    reason = reason_of(exc)
    detail = str(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if kind is ErrorKind.UNAVAILABLE:
        detail = unavailable_message(exc)
        headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
        extra["retry_after"] = UNAVAILABLE_RETRY_AFTER_SECONDS
    elif isinstance(exc, RateLimitExceeded):
        headers.update(rejection_headers(exc))
        extra["retry_after"] = exc.verdict.retry_after
    elif isinstance(exc, OrderVersionMismatch):
        # The version to read (or to retry with, after a fresh read).
        headers["ETag"] = etag(exc.current_version)
    elif kind is ErrorKind.UNAUTHENTICATED:
        headers.update(_BEARER_CHALLENGE)
    return problem_response(
        scope, code=code, detail=detail, reason=reason, headers=headers, extra=extra
    )


async def _known_error(request: Request, exc: Exception) -> JSONResponse:
    response = known_error_response(exc, request.scope)
    return response if response is not None else _internal_error(request, exc)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    broken = next((error for error in raw if error["type"] == "json_invalid"), None)
    if broken is not None:
        # Broken JSON syntax is not a field's value: 400, as GraphQL answers it.
        problem = broken.get("ctx", {}).get("error", "JSON decode error")
        position = broken["loc"][-1]
        return problem_response(
            request.scope,
            code=ErrorCode.BAD_REQUEST,
            reason=MALFORMED_JSON,
            detail=f"The request body is not valid JSON: {problem} (at character {position})",
        )
    if any(error["loc"] == ("body",) and isinstance(error.get("input"), bytes) for error in raw):
        # FastAPI hands a JSON route the raw bytes of a body it did not read as JSON (its
        # Content-Type is not JSON, or absent): the media type is the problem, not a field.
        return problem_response(
            request.scope,
            code=ErrorCode.BAD_REQUEST,
            reason=UNSUPPORTED_MEDIA_TYPE,
            detail="Send the body as JSON, with `Content-Type: application/json`",
        )
    errors = validation_errors(list(raw))
    summary = validation_summary("Invalid request", ((e["loc"], e["message"]) for e in errors))
    return problem_response(
        request.scope,
        code=ErrorCode.BAD_USER_INPUT,
        reason=VALIDATION_FAILED,
        detail=summary,
        extra={"errors": errors},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    code, reason = _FRAMEWORK_ERRORS.get(exc.status_code, (_code_for(exc.status_code), None))
    if reason == MALFORMED_BODY and _is_json(request.headers.get("content-type")):
        reason = MALFORMED_JSON
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(
        request.scope,
        code=code,
        reason=reason,
        status_code=exc.status_code,
        detail=str(exc.detail),
        headers=headers,
    )


def _code_for(status_code: int) -> ErrorCode:
    for code, code_status in STATUS_BY_CODE.items():
        if code_status == status_code:
            return code
    return ErrorCode.INTERNAL_SERVER_ERROR if status_code >= 500 else ErrorCode.BAD_REQUEST


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


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug: the client gets a fixed text and the request id; the details go to the log only."""
    logger.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return problem_response(
        request.scope, code=ErrorCode.INTERNAL_SERVER_ERROR, detail=INTERNAL_ERROR_MESSAGE
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    response = _internal_error(request, exc)
    request_id = request.scope.get(REQUEST_ID)
    extra = {"X-Request-ID": request_id} if request_id else {}
    response.headers.update({**_INTERNAL_ERROR_HEADERS, **extra})
    return response


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
