"""Shapes that exist only at the HTTP edge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from edge.errors import ErrorCode


class FieldProblem(BaseModel):
    """One invalid field, as pydantic reports it."""

    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `header` or `path`, then the field's path.",
        examples=[["body", "items", 0, "price"]],
    )
    message: str = Field(examples=["Input should be greater than 0"])
    type: str = Field(description="pydantic's error type.", examples=["greater_than"])


class ProblemDetails(BaseModel):
    """Every error answer has this shape (RFC 9457 Problem Details, `application/problem+json`)."""

    type: str = Field(
        description="The problem type's page on this API, `/problems/<code in lower case>`: "
        "what it means and what to do.",
        examples=["/problems/not-found"],
    )
    title: str = Field(description="Fixed per `code`.", examples=["Not found"])
    status: int = Field(description="The HTTP status of this answer.", examples=[404])
    detail: str = Field(description="What went wrong, for a human.", examples=["Order not found"])
    instance: str = Field(
        description="The path of the request.",
        examples=["/orders/0b7e5f0a-8d5c-4c43-9f3e-3b8f2f4b9a11/"],
    )
    request_id: str = Field(
        description="The request's `X-Request-ID`: quote it when reporting a problem.",
        examples=["5f0c6d3e2b8a4e1f9c7d6b5a4e3f2d1c"],
    )
    code: ErrorCode = Field(
        description="What kind of failure, for a program: the same value as GraphQL's "
        "`extensions.code` for the same failure.",
        examples=["NOT_FOUND"],
    )
    reason: str | None = Field(
        default=None,
        description="Its cause, where one code has several (`EMAIL_TAKEN`, `INVALID_TRANSITION`, "
        "…): the same value as GraphQL's `extensions.reason`. The `type` page lists them.",
        examples=["ORDER_NOT_FOUND"],
    )
    errors: list[FieldProblem] | None = Field(
        default=None, description="422 only: every invalid field."
    )
    retry_after: int | None = Field(
        default=None,
        description="429 and 503: seconds to wait before retrying (as the `Retry-After` header).",
    )
    error: str | None = Field(
        default=None,
        description="`POST /token` only: the OAuth2 error (RFC 6749 §5.2), for OAuth2 client "
        "libraries: `invalid_grant`, `invalid_request`, `unsupported_grant_type`, `invalid_scope`.",
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each listed status documented as Problem Details (api/openapi.py
    gives each its media type and example)."""
    return {status: {"model": ProblemDetails} for status in statuses}
