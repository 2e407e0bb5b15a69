"""The API process's composition root: `uvicorn --factory api.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.errors import install_error_handlers
from api.middleware import RequestIdMiddleware
from api.routes import auth, orders
from api.state import AppState
from domain.infra.db import create_engine, create_session_factory
from domain.infra.logs import configure_logging
from domain.infra.settings import Settings, get_settings
from domain.users.passwords import PasswordHasher
from domain.users.tokens import TokenService


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.app)
        engine = create_engine(settings.database)
        hasher = PasswordHasher()
        app.state.orders = AppState(
            settings=settings,
            engine=engine,
            session_factory=create_session_factory(engine),
            tokens=TokenService.from_settings(settings.auth),
            hasher=hasher,
        )
        try:
            yield
        finally:
            hasher.close()
            await engine.dispose()

    app = FastAPI(
        title="Orders",
        summary="Order management: users, orders, status rules, cache and events.",
        version="0.1.0",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.app.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
        expose_headers=["Location", "Link", "Retry-After", "X-Cache", "X-Request-ID"],
    )
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(orders.router)
    return app
