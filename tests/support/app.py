"""Run the real app in-process, over ASGI, with given settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import httpx
from fastapi import FastAPI

from api.main import create_app
from api.settings import ApiProcessSettings
from edge.resources import Resources


@asynccontextmanager
async def running_app(
    settings: ApiProcessSettings, *, without: type | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    """A client for a freshly built app (its lifespan run), and the app's state. `without`: a
    middleware class left out (a fast path, to compare its answers with the normal path's)."""
    app: FastAPI = create_app(settings)
    if without is not None:
        app.user_middleware = [m for m in app.user_middleware if cast(object, m.cls) is not without]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client, app.state.resources
