"""A router whose routes answer with and without their trailing slash, with no redirect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class SlashTolerantRouter(APIRouter):
    """Registers each route twice: under its documented path, and hidden under its slash twin.

    A 307 redirect from `/orders` to `/orders/` drops the body and `Authorization` header in many
    clients, so the twin is served directly. Only the documented path appears in the OpenAPI.
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        twin = path.removesuffix("/") if path.endswith("/") else f"{path}/"
        super().add_api_route(twin, endpoint, **{**kwargs, "include_in_schema": False})
