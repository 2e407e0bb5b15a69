"""The OpenAPI document as generated clients need it: every error response as Problem Details.

FastAPI documents a route's `responses=` models under `application/json`, and adds its own 422
(`HTTPValidationError`) to every route with parameters. Both are rewritten here, once, when the
document is first built: each error response of the routes is `application/problem+json` with the
`ProblemDetails` schema and an example built by the same function as the real answers
(api/errors.py `problem_body`), so the examples cannot drift from the answers.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.problem_details import OAUTH2_TOKEN_OPERATION, PROBLEM_JSON, problem_body
from edge.errors import (
    DATABASE_UNAVAILABLE,
    MALFORMED_JSON,
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    UNKNOWN_PATH,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    ErrorCode,
)
from edge.scope import REQUEST_ID

_PROBLEM_REF = "#/components/schemas/ProblemDetails"
# FastAPI's own validation error schemas, replaced by ProblemDetails.
_FASTAPI_VALIDATION_REFS = (
    "#/components/schemas/HTTPValidationError",
    "#/components/schemas/ValidationError",
)

_EXAMPLE_REQUEST_ID = "5f0c6d3e2b8a4e1f9c7d6b5a4e3f2d1c"
_EXAMPLE_PARAMETERS = {
    "order_id": "0b7e5f0a-8d5c-4c43-9f3e-3b8f2f4b9a11",
    "user_id": "2",
    "name": "no-such-problem",
}

# (code, reason, detail, extra) of each status's example, then the exceptions by operation.
_Example = tuple[ErrorCode, str | None, str, dict[str, Any]]
_BY_STATUS: dict[int, _Example] = {
    400: (
        ErrorCode.BAD_REQUEST,
        MALFORMED_JSON,
        "The request body is not valid JSON: Expecting value (at character 9)",
        {},
    ),
    401: (ErrorCode.UNAUTHENTICATED, "NOT_AUTHENTICATED", "Not authenticated", {}),
    403: (ErrorCode.FORBIDDEN, "NOT_OWNER", "You can list only your own orders", {}),
    404: (ErrorCode.NOT_FOUND, "ORDER_NOT_FOUND", "Order not found", {}),
    409: (
        ErrorCode.CONFLICT,
        "INVALID_TRANSITION",
        "Cannot change order status from SHIPPED to PAID",
        {},
    ),
    412: (
        ErrorCode.PRECONDITION_FAILED,
        "VERSION_MISMATCH",
        "The order has changed: its current version is 3; read it again before changing it",
        {},
    ),
    415: (
        ErrorCode.BAD_REQUEST,
        UNSUPPORTED_MEDIA_TYPE,
        "Send the body as JSON, with `Content-Type: application/json`",
        {},
    ),
    422: (
        ErrorCode.BAD_USER_INPUT,
        VALIDATION_FAILED,
        "Invalid request: body.items.0.quantity: Input should be greater than 0",
        {
            "errors": [
                {
                    "loc": ["body", "items", 0, "quantity"],
                    "message": "Input should be greater than 0",
                    "type": "greater_than",
                }
            ]
        },
    ),
    429: (
        ErrorCode.RATE_LIMITED,
        "TOO_MANY_REQUESTS",
        "Rate limit exceeded: 100 per window; retry in 17s",
        {"retry_after": 17},
    ),
    503: (
        ErrorCode.SERVICE_UNAVAILABLE,
        DATABASE_UNAVAILABLE,
        "The database is unavailable; try again shortly",
        {"retry_after": UNAVAILABLE_RETRY_AFTER_SECONDS},
    ),
}
_BY_OPERATION: dict[tuple[str, int], _Example] = {
    ("register", 409): (
        ErrorCode.CONFLICT,
        "EMAIL_TAKEN",
        "An account with this email already exists",
        {},
    ),
    (OAUTH2_TOKEN_OPERATION, 401): (
        ErrorCode.UNAUTHENTICATED,
        "INVALID_CREDENTIALS",
        "Incorrect email or password",
        {"error": "invalid_grant"},
    ),
    (OAUTH2_TOKEN_OPERATION, 415): (
        ErrorCode.BAD_REQUEST,
        UNSUPPORTED_MEDIA_TYPE,
        "Send the form as `Content-Type: application/x-www-form-urlencoded`",
        {"error": "invalid_request"},
    ),
    (OAUTH2_TOKEN_OPERATION, 422): (
        ErrorCode.BAD_USER_INPUT,
        VALIDATION_FAILED,
        "Invalid request: body.password: Field required",
        {
            "errors": [
                {"loc": ["body", "password"], "message": "Field required", "type": "missing"}
            ],
            "error": "invalid_request",
        },
    ),
    ("getProblemType", 404): (
        ErrorCode.NOT_FOUND,
        UNKNOWN_PATH,
        "No problem type is named 'no-such-problem'",
        {},
    ),
}


# The webhook routes (staff only) refuse in their own terms.
_BY_WEBHOOK_STATUS: dict[int, _Example] = {
    403: (
        ErrorCode.FORBIDDEN,
        "STAFF_ONLY",
        "This needs a staff account and a token with the orders:manage scope",
        {},
    ),
    404: (ErrorCode.NOT_FOUND, "WEBHOOK_NOT_FOUND", "Webhook not found", {}),
    409: (
        ErrorCode.CONFLICT,
        "DELIVERY_NOT_FAILED",
        "Only a failed delivery can be retried; this one is PENDING",
        {},
    ),
}


def example_problem(operation_id: str, path: str, status: int) -> dict[str, Any]:
    """The example answer of `status` for the operation at `path`."""
    by_status = _BY_STATUS
    if path.startswith("/webhooks"):
        by_status = {**_BY_STATUS, **_BY_WEBHOOK_STATUS}
    code, reason, detail, extra = _BY_OPERATION.get(
        (operation_id, status), by_status.get(status, _BY_STATUS[400])
    )
    instance = re.sub(r"\{(\w+)\}", lambda m: _EXAMPLE_PARAMETERS.get(m[1], "1"), path)
    scope = {"path": instance, REQUEST_ID: _EXAMPLE_REQUEST_ID}
    return problem_body(
        scope, code=code, detail=detail, status_code=status, reason=reason, extra=extra
    )


def _documents_an_error(response: dict[str, Any]) -> bool:
    refs = {media.get("schema", {}).get("$ref") for media in response.get("content", {}).values()}
    return bool(refs & {_PROBLEM_REF, *_FASTAPI_VALIDATION_REFS})


def document_problems(document: dict[str, Any]) -> None:
    """Rewrite every error response of `document` as Problem Details, in place."""
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400 or not _documents_an_error(response):
                    continue
                example = example_problem(operation["operationId"], path, int(status))
                response["content"] = {
                    PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}, "example": example}
                }
    schemas = document.get("components", {}).get("schemas", {})
    for ref in _FASTAPI_VALIDATION_REFS:
        schemas.pop(ref.rsplit("/", 1)[1], None)


def camel_case_operation_id(route: APIRoute) -> str:
    """A route's operationId from its function's name: `list_user_orders` → `listUserOrders`."""
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at /openapi.json (built once, on the first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
