"""Shapes that exist only at the HTTP edge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    detail: str = Field(description="What went wrong, for a human.", examples=["Order not found"])
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors by location (422 only)."
    )
    error: str | None = Field(
        default=None,
        description="The OAuth2 error code (RFC 6749 §5.2) of a refused token request, such as "
        "`invalid_scope`.",
        examples=["invalid_scope"],
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each listed status documented with the shared error shape."""
    return {status: {"model": ErrorBody} for status in statuses}
