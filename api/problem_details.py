"""Problem Details (RFC 9457, `application/problem+json`), the body of every REST error: the status
table, derived from the one list of error types (edge/errors.py), and how a body is built.

An answer carries `type` (`/problems/<code>`, a page this API serves), `title` (fixed per code),
`status`, `detail` (for a human), `instance` (the request's path), `request_id` (its X-Request-ID),
`code` (as GraphQL's `extensions.code`) and, when known, `reason` (as GraphQL's `extensions.reason`);
a 422 adds `errors`, a 429 or 503 `retry_after`, and `/token`'s failures the OAuth2 member `error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.types import Scope

from domain.errors import ErrorKind
from domain.users.errors import InvalidCredentials, InvalidScope
from edge.errors import (
    BODY_TOO_LARGE,
    ERROR_TYPE_BY_CODE,
    ERROR_TYPE_BY_KIND,
    MALFORMED_BODY,
    MALFORMED_JSON,
    METHOD_NOT_ALLOWED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ErrorCode,
)
from edge.scope import REQUEST_ID

PROBLEM_JSON = "application/problem+json"

# The table: every code of the one list, as an HTTP status.
STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.UNAUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorCode.BAD_USER_INPUT: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorCode.BAD_REQUEST: status.HTTP_400_BAD_REQUEST,
    ErrorCode.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.PRECONDITION_FAILED: status.HTTP_412_PRECONDITION_FAILED,
    ErrorCode.SERVICE_UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorCode.INTERNAL_SERVER_ERROR: status.HTTP_500_INTERNAL_SERVER_ERROR,
}
# The reasons of BAD_REQUEST that HTTP has a status of its own for.
FRAMEWORK_STATUS_BY_REASON: dict[str, int] = {
    METHOD_NOT_ALLOWED: status.HTTP_405_METHOD_NOT_ALLOWED,
    BODY_TOO_LARGE: status.HTTP_413_CONTENT_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
}
# Every reason answered with another status than its code's: the above, and OAuth2's 400 for a scope
# the account lacks (RFC 6749 §5.2), which is BAD_USER_INPUT on both interfaces.
STATUS_BY_REASON: dict[str, int] = {
    **FRAMEWORK_STATUS_BY_REASON,
    InvalidScope.reason or "": status.HTTP_400_BAD_REQUEST,
}
STATUS_BY_KIND: dict[ErrorKind, int] = {
    kind: STATUS_BY_CODE[error_type.code] for kind, error_type in ERROR_TYPE_BY_KIND.items()
}

# The operationId of `POST /token`, whose failures also carry the OAuth2 member `error`.
OAUTH2_TOKEN_OPERATION = "createToken"  # noqa: S105 (a name, not a secret)
# RFC 6749 §5.2: what an OAuth2 client library reads. Validation failures are `invalid_request`
# (`unsupported_grant_type` when the grant type is the invalid field).
OAUTH2_ERROR_BY_REASON: dict[str, str] = {
    InvalidCredentials.reason or "": "invalid_grant",
    InvalidScope.reason or "": "invalid_scope",
    VALIDATION_FAILED: "invalid_request",
    MALFORMED_BODY: "invalid_request",
    MALFORMED_JSON: "invalid_request",
    UNSUPPORTED_MEDIA_TYPE: "invalid_request",
}


def problem_type(code: ErrorCode) -> str:
    return f"/problems/{ERROR_TYPE_BY_CODE[code].slug}"


def problem_body(
    scope: Scope,
    *,
    code: ErrorCode,
    detail: str,
    status_code: int,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Problem Details of a failure of the request in `scope`."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": ERROR_TYPE_BY_CODE[code].title,
        "status": status_code,
        "detail": detail,
        "instance": scope.get("root_path", "") + scope.get("path", ""),
        "request_id": scope.get(REQUEST_ID),
        "code": code.value,
    }
    if reason is not None:
        body["reason"] = reason
    if extra:
        body.update(extra)
    oauth2_error = _oauth2_error(scope, reason, extra)
    if oauth2_error is not None:
        body["error"] = oauth2_error
    return body


def problem_response(
    scope: Scope,
    *,
    code: ErrorCode,
    detail: str,
    reason: str | None = None,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """The Problem Details answer to the request in `scope`."""
    if status_code is None:
        status_code = STATUS_BY_REASON.get(reason or "", STATUS_BY_CODE[code])
    body = problem_body(
        scope, code=code, detail=detail, status_code=status_code, reason=reason, extra=extra
    )
    return JSONResponse(body, status_code=status_code, headers=headers, media_type=PROBLEM_JSON)


def _oauth2_error(scope: Scope, reason: str | None, extra: Mapping[str, Any] | None) -> str | None:
    route = scope.get("route")
    if getattr(route, "operation_id", None) != OAUTH2_TOKEN_OPERATION or reason is None:
        return None
    if reason == VALIDATION_FAILED and any(
        "grant_type" in error["loc"] for error in (extra or {}).get("errors", ())
    ):
        return "unsupported_grant_type"
    return OAUTH2_ERROR_BY_REASON.get(reason)
